package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/sqlite"
)

// TestRunJSONSchema: the runs gluenet prints (runs list, runs show) match
// the published docs/schema/run.schema.json, including a run recorded by an
// earlier build in Go's field names and nanoseconds; and every key of the
// JSON that run, status and runs print is snake_case.
func TestRunJSONSchema(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	ctx := context.Background()
	if code, _, stderr := e.gluenet(ctx, append([]string{"run", "--job", job, "--connections", conn1 + "," + conn2,
		"--run-key", "new", "--arg", "--day=2026-12-07", "--workers", "2", "--output", "json"}, fast...)...); code != 0 {
		t.Fatalf("run: exit %d\n%s", code, stderr)
	}
	st, err := sqlite.Open(ctx, e.state)
	if err != nil {
		t.Fatal(err)
	}
	legacy := `{"job":"AirflowBlogJob","connections":["a","b"],"strategy":"weighted","min_ips":2,
		"policy":{"MaxAttempts":3,"InitialDelay":30000000000,"Multiplier":2,"MaxDelay":600000000000,"Jitter":0.2,"MaxStartRetries":5,"StopOnInterrupt":true},
		"classify":{"RetryJobFailures":false},"poll_interval":10000000000,"start":{}}`
	if _, _, err := st.BeginRun(ctx, store.Run{Key: "old", Job: job, Status: store.RunFailed, Inputs: json.RawMessage(legacy), CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	schema := loadSchema(t, filepath.Join("..", "..", "docs", "schema", "run.schema.json"))
	code, out, stderr := e.gluenet(ctx, "runs", "list", "--output", "json")
	if code != 0 {
		t.Fatalf("runs list: exit %d\n%s", code, stderr)
	}
	var runs []any
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 2 {
		t.Fatalf("runs list printed %d runs (%v):\n%s", len(runs), err, out)
	}
	for _, r := range runs {
		for _, p := range schema.validate(r, "$") {
			t.Errorf("runs list: %s", p)
		}
	}
	for _, key := range []string{"new", "old"} {
		code, out, stderr := e.gluenet(ctx, "runs", "show", key, "--output", "json")
		if code != 0 {
			t.Fatalf("runs show %s: exit %d\n%s", key, code, stderr)
		}
		var shown map[string]any
		if err := json.Unmarshal([]byte(out), &shown); err != nil {
			t.Fatal(err)
		}
		for _, p := range schema.validate(shown["run"], "$.run") {
			t.Errorf("runs show %s: %s", key, p)
		}
		for _, p := range notSnake(shown, "$") {
			t.Errorf("runs show %s: %s", key, p)
		}
	}
	for _, args := range [][]string{{"status", "--run-key", "new", "--output", "json"}, {"status", "--run-key", "new", "--offline", "--output", "json"}} {
		code, out, stderr := e.gluenet(ctx, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, stderr)
		}
		var v any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatal(err)
		}
		for _, p := range notSnake(v, "$") {
			t.Errorf("%v: %s", args, p)
		}
	}
}

// notSnake lists the keys of v that are not snake_case, and numbers that
// look like durations in nanoseconds (1e9 and more) under a key that names
// a time span. Job arguments are the job's own keys and are skipped.
func notSnake(v any, path string) []string {
	var bad []string
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if !regexp.MustCompile(`^[a-z][a-z0-9_]*$`).MatchString(k) {
				bad = append(bad, fmt.Sprintf("%s: key %q is not snake_case", path, k))
			}
			if k == "arguments" {
				continue
			}
			if n, ok := val.(float64); ok && n >= 1e9 && regexp.MustCompile(`delay|interval|timeout|duration|ttl`).MatchString(k) {
				bad = append(bad, fmt.Sprintf("%s.%s: %v looks like nanoseconds; durations are strings", path, k, n))
			}
			bad = append(bad, notSnake(val, path+"."+k)...)
		}
	case []any:
		for i, val := range x {
			bad = append(bad, notSnake(val, fmt.Sprintf("%s[%d]", path, i))...)
		}
	}
	return bad
}

// jsonSchema is the part of JSON Schema (2020-12) the published schemas
// use: type, enum, pattern, required, properties, additionalProperties,
// items and $ref to $defs. A keyword it does not know fails the test, so
// that a schema never checks less than it says.
type jsonSchema struct {
	root map[string]any
}

func loadSchema(t *testing.T, path string) jsonSchema {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return jsonSchema{root: root}
}

func (s jsonSchema) validate(v any, path string) []string { return s.check(s.root, v, path) }

func (s jsonSchema) check(sch map[string]any, v any, path string) []string {
	if ref, ok := sch["$ref"].(string); ok {
		def, _ := s.root["$defs"].(map[string]any)[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		if def == nil {
			return []string{path + ": unknown $ref " + ref}
		}
		return s.check(def, v, path)
	}
	var bad []string
	for k := range sch {
		if !slices.Contains([]string{"$schema", "$id", "title", "description", "$defs", "type", "enum", "pattern",
			"required", "properties", "additionalProperties", "items"}, k) {
			bad = append(bad, path+": the schema uses "+k+", which this test does not check")
		}
	}
	if typ, ok := sch["type"].(string); ok && !isType(v, typ) {
		return append(bad, fmt.Sprintf("%s: %v is not of type %s", path, v, typ))
	}
	if enum, ok := sch["enum"].([]any); ok && !slices.Contains(enum, v) {
		bad = append(bad, fmt.Sprintf("%s: %v is not one of %v", path, v, enum))
	}
	if pat, ok := sch["pattern"].(string); ok {
		if str, _ := v.(string); !regexp.MustCompile(pat).MatchString(str) {
			bad = append(bad, fmt.Sprintf("%s: %q does not match %s", path, str, pat))
		}
	}
	if obj, ok := v.(map[string]any); ok {
		props, _ := sch["properties"].(map[string]any)
		for _, r := range asList(sch["required"]) {
			if _, ok := obj[r.(string)]; !ok {
				bad = append(bad, fmt.Sprintf("%s: %s is required", path, r))
			}
		}
		for k, val := range obj {
			switch p, ok := props[k].(map[string]any); {
			case ok:
				bad = append(bad, s.check(p, val, path+"."+k)...)
			case sch["additionalProperties"] == false:
				bad = append(bad, fmt.Sprintf("%s: %s is not in the schema", path, k))
			default:
				if extra, ok := sch["additionalProperties"].(map[string]any); ok {
					bad = append(bad, s.check(extra, val, path+"."+k)...)
				}
			}
		}
	}
	if arr, ok := v.([]any); ok {
		if items, ok := sch["items"].(map[string]any); ok {
			for i, val := range arr {
				bad = append(bad, s.check(items, val, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return bad
}

func asList(v any) []any { l, _ := v.([]any); return l }

func isType(v any, typ string) bool {
	switch typ {
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		n, ok := v.(float64)
		return ok && n == float64(int64(n))
	case "null":
		return v == nil
	}
	return false
}

// TestSchemaValidator: the validator the schema test relies on finds what
// it should (a test that cannot fail proves nothing).
func TestSchemaValidator(t *testing.T) {
	t.Parallel()
	s := jsonSchema{root: map[string]any{
		"type": "object", "required": []any{"a"}, "additionalProperties": false,
		"properties": map[string]any{"a": map[string]any{"$ref": "#/$defs/d"}, "b": map[string]any{"enum": []any{"x"}}},
		"$defs":      map[string]any{"d": map[string]any{"type": "string", "pattern": "^[0-9]+s$"}},
	}}
	tests := []struct {
		name string
		in   string
		bad  int
	}{
		{"valid", `{"a":"30s","b":"x"}`, 0},
		{"missing", `{"b":"x"}`, 1},
		{"extra key", `{"a":"30s","c":1}`, 1},
		{"nanoseconds", `{"a":30000000000}`, 1},
		{"pattern", `{"a":"soon"}`, 1},
		{"enum", `{"a":"1s","b":"y"}`, 1},
	}
	for _, tt := range tests {
		var v any
		if err := json.Unmarshal([]byte(tt.in), &v); err != nil {
			t.Fatal(err)
		}
		if got := s.validate(v, "$"); len(got) != tt.bad {
			t.Errorf("%s: %d problems %v, want %d", tt.name, len(got), got, tt.bad)
		}
	}
	if got := notSnake(map[string]any{"MaxAttempts": 3.0, "poll_interval": 1e10, "arguments": map[string]any{"--day": "1"}}, "$"); len(got) != 2 {
		t.Errorf("notSnake found %v, want the Go key and the nanoseconds", got)
	}
}

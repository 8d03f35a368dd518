package strictyaml

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type doc struct {
	Name  string `yaml:"name"`
	Count int    `yaml:"count"`
}

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, wantErr string
	}{
		{"name: a\ncount: 2\n", ""},
		{"", "empty document"},
		{"  \n", "empty document"},
		{"name: a\ncoutn: 2\n", "line 2"},
		{"name: a\n---\nname: b\n", "more than one YAML document"},
		{"count: many\n", "parse thing"},
	}
	for _, tt := range tests {
		d, err := Decode[doc]([]byte(tt.in), "thing")
		if tt.wantErr == "" {
			if err != nil || d.Name != "a" || d.Count != 2 {
				t.Errorf("%q: %+v %v", tt.in, d, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%q: err %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	builtin := func(name string) ([]byte, error) {
		if name == "std" {
			return []byte("name: a\ncount: 2\n"), nil
		}
		return nil, errors.New("no such built-in")
	}
	parse := func(b []byte) (*doc, error) { return Decode[doc](b, "thing") }
	file := filepath.Join(t.TempDir(), "f.yaml")
	os.WriteFile(file, []byte("name: a\ncount: 2\n"), 0o600)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("nmae: a\n"), 0o600)
	for _, tt := range []struct{ in, wantErr string }{
		{"std", ""}, {file, ""}, {"missing", "no such file and no built-in of that name (built-in: std)"}, {bad, "line 1"},
	} {
		d, err := Load(tt.in, "thing", builtin, []string{"std"}, parse)
		if tt.wantErr == "" {
			if err != nil || d.Count != 2 {
				t.Errorf("%s: %+v %v", tt.in, d, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err %v, want %q", tt.in, err, tt.wantErr)
		}
	}
	if _, err := Load("missing", "thing", builtin, nil, parse); !errors.Is(err, ErrNoSuchDocument) {
		t.Errorf("missing: %v is not ErrNoSuchDocument", err)
	}
}

// The two kinds of document the checker serves: a config file (optional
// keys, per-name maps, a yaml.Node decoded later) and a scenario (lists of
// records, an inlined struct, a type that decodes itself).
type configDoc struct {
	Job         string                 `yaml:"job"`
	Connections []string               `yaml:"connections"`
	NeedIPs     int                    `yaml:"need_ips"`
	Retry       struct{ Attempts int } `yaml:"retry"`
	Enabled     *bool                  `yaml:"enabled"`
	Jobs        map[string]struct {
		Connections []string `yaml:"connections"`
	} `yaml:"jobs"`
	Arguments yaml.Node `yaml:"arguments"`
	Hidden    string    `yaml:"-"`
}

type seconds int

func (s *seconds) UnmarshalYAML(n *yaml.Node) error {
	var v int
	if err := n.Decode(&v); err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a number of seconds", n.Line, n.Value)
	}
	*s = seconds(v)
	return nil
}

type profile struct {
	Startup seconds `yaml:"startup"`
}

type scenarioDoc struct {
	Name string `yaml:"name"`
	Jobs []struct {
		Name    string `yaml:"name"`
		Workers int    `yaml:"workers"`
		profile `yaml:",inline"`
	} `yaml:"jobs"`
	Tags map[string]string `yaml:",inline"`
}

func TestCheckBothUses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc, in string
		want          string // "" parses; else the error contains it
		line          int
		key           string
	}{
		// config files
		{"config: all keys", "config", "job: j\nconnections: [a, b]\nneed_ips: 4\nretry: {attempts: 2}\nenabled: true\njobs: {etl: {connections: [x]}}\narguments: {--day: '1'}\n", "", 0, ""},
		{"config: typo with a suggestion", "config", "job: j\nconections: [a]\n", "unknown key `conections`; did you mean `connections`?", 2, "conections"},
		{"config: nested typo", "config", "retry:\n  atempts: 2\n", "unknown key `retry.atempts`; did you mean `retry.attempts`?", 2, "retry.atempts"},
		{"config: per-name typo", "config", "jobs:\n  etl:\n    conections: [a]\n", "unknown key `jobs.etl.conections`", 3, "jobs.etl.conections"},
		{"config: no near key", "config", "colour: blue\n", "unknown key `colour`", 1, "colour"},
		{"config: `-` keys are not keys", "config", "hidden: x\n", "unknown key `hidden`", 1, "hidden"},
		{"config: a list written as a string", "config", "connections: a, b\n", "write `connections: [a, b]`", 1, "connections"},
		{"config: a single value for a list", "config", "connections: a\n", "`connections` must be a list, e.g. `connections: [a]`", 1, "connections"},
		{"config: not a number", "config", "need_ips: many\n", "`need_ips`: \"many\" is not a whole number", 1, "need_ips"},
		{"config: not a bool", "config", "enabled: maybe\n", "is not true or false", 1, "enabled"},
		{"config: keys expected", "config", "retry: 3\n", "`retry` must hold keys", 1, "retry"},
		{"config: a list where a value goes", "config", "job: [a]\n", "`job` must be a single value, not a list", 1, "job"},
		{"config: a key twice", "config", "job: a\nneed_ips: 2\njob: b\n", "`job` is given twice (first on line 1)", 3, "job"},
		{"config: a list at the top", "config", "- a\n", "the document must hold keys", 1, ""},
		{"config: null values are unset", "config", "job:\nretry:\n", "", 0, ""},
		{"config: merge keys", "config", "base: &b {attempts: 2}\n", "unknown key `base`", 1, "base"},
		// scenarios
		{"scenario: records", "scenario", "name: s\njobs:\n  - {name: j, workers: 2, startup: 30}\n", "", 0, ""},
		{"scenario: an inlined field is a key", "scenario", "name: s\njobs: [{name: j, startup: 5}]\n", "", 0, ""},
		{"scenario: typo in a list item names its index", "scenario", "name: s\njobs:\n  - {name: a}\n  - {name: b, wrokers: 2}\n", "unknown key `jobs[1].wrokers`; did you mean `jobs[1].workers`?", 4, "jobs[1].wrokers"},
		{"scenario: a type's own error, its line said once", "scenario", "name: s\njobs: [{name: j, startup: -1}]\n", "line 2: `jobs[0].startup`: \"-1\" is not a number of seconds", 2, "jobs[0].startup"},
		{"scenario: an inlined map takes other keys", "scenario", "name: s\nteam: data\n", "", 0, ""},
		{"scenario: merge keys are allowed", "scenario", "name: s\njobs:\n  - &j {name: a, workers: 2}\n  - {<<: *j, name: b}\n", "", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var err error
			if tt.doc == "config" {
				_, err = Unmarshal[configDoc]([]byte(tt.in))
			} else {
				_, err = Unmarshal[scenarioDoc]([]byte(tt.in))
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err %T %v, want an *Error", err, err)
			}
			if !strings.Contains(err.Error(), tt.want) || e.Line != tt.line || e.Key != tt.key {
				t.Errorf("got line %d key %q: %v\nwant line %d key %q: %q", e.Line, e.Key, err, tt.line, tt.key, tt.want)
			}
			for _, internal := range []string{"strictyaml.", "configDoc", "unmarshal", "[]string", "not found in type"} {
				if strings.Contains(err.Error(), internal) {
					t.Errorf("message shows Go internals (%q): %v", internal, err)
				}
			}
		})
	}
}

func TestUnmarshalDocumentErrors(t *testing.T) {
	t.Parallel()
	var syn *SyntaxError
	for _, tt := range []struct {
		in   string
		want func(error) bool
	}{
		{"", func(err error) bool { return errors.Is(err, ErrEmpty) }},
		{"# only a comment\n", func(err error) bool { return errors.Is(err, ErrEmpty) }},
		{"job: a\n---\njob: b\n", func(err error) bool { return errors.Is(err, ErrMultipleDocuments) }},
		{"job: [a\n", func(err error) bool {
			return errors.As(err, &syn) && strings.HasPrefix(err.Error(), "not valid YAML: line 1")
		}},
	} {
		if _, err := Unmarshal[configDoc]([]byte(tt.in)); !tt.want(err) {
			t.Errorf("%q: unexpected error %T %v", tt.in, err, err)
		}
	}
}

// FuzzUnmarshal: any input gives a value or one of the documented errors,
// never a panic.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{"job: j\nconnections: [a]\n", "name: s\njobs: [{name: j, startup: 3}]\n", "- a", "a: &x [*x]", "<<: 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, err := range []error{
			func() error { _, err := Unmarshal[configDoc]([]byte(in)); return err }(),
			func() error { _, err := Unmarshal[scenarioDoc]([]byte(in)); return err }(),
		} {
			var e *Error
			var syn *SyntaxError
			if err != nil && !errors.As(err, &e) && !errors.As(err, &syn) && !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrMultipleDocuments) {
				t.Fatalf("%q: undocumented error %T %v", in, err, err)
			}
		}
	})
}

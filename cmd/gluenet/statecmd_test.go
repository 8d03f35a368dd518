package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/gluenet/gluenet/awsclient"
	ddbstore "github.com/gluenet/gluenet/store/dynamodb"
)

// TestIAMPolicyGrantsTheStateTable: with --state dynamodb://TABLE the
// policy allows every DynamoDB operation the store calls (and the footprint
// test's allow-list, which the binary is checked against, holds no other
// runtime operation), on that table and its indexes only; without a table
// it grants no DynamoDB action.
func TestIAMPolicyGrantsTheStateTable(t *testing.T) {
	tests := []struct {
		name, state string
		want        []string // the Resource of the DynamoDB statement; nil: none
	}{
		{"sqlite", "", nil},
		{"sqlite path", "/tmp/state.db", nil},
		{"dynamodb", "dynamodb://gluenet-state", []string{
			"arn:aws:dynamodb:eu-west-1:123456789012:table/gluenet-state",
			"arn:aws:dynamodb:eu-west-1:123456789012:table/gluenet-state/index/*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{"iam-policy", "--job", "j", "--connections", "a,b", "--region", "eu-west-1", "--account", "123456789012"}
			if tt.state != "" {
				args = append(args, "--state", tt.state)
			}
			var out, errb bytes.Buffer
			if code := execute(t.Context(), args, &out, &errb, func(string) (string, bool) { return "", false }); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			var p awsclient.IAMPolicy
			if err := json.Unmarshal(out.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			var actions []string
			var resource any
			for _, st := range p.Statement {
				for _, a := range st.Action {
					if strings.HasPrefix(a, "dynamodb:") {
						actions = append(actions, strings.TrimPrefix(a, "dynamodb:"))
						resource = st.Resource
					}
				}
			}
			if tt.want == nil {
				if len(actions) > 0 {
					t.Fatalf("no table configured, yet the policy grants %v", actions)
				}
				return
			}
			slices.Sort(actions)
			want := slices.Sorted(slices.Values(ddbstore.Operations))
			if !slices.Equal(actions, want) {
				t.Errorf("DynamoDB actions = %v, want the store's operations %v", actions, want)
			}
			for _, op := range want {
				if !slices.Contains(sdkOperations["dynamodb"], op) {
					t.Errorf("the store calls %s, which the footprint allow-list lacks", op)
				}
			}
			if got, _ := json.Marshal(resource); string(got) != mustJSON(t, tt.want) {
				t.Errorf("Resource = %s, want %s", got, mustJSON(t, tt.want))
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStateInit covers what `gluenet state init` refuses before calling
// AWS, and --print.
func TestStateInit(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"not a table", []string{"state", "init", "/tmp/x.db"}, exitUsage, "dynamodb://TABLE"},
		{"bad table name", []string{"state", "init", "dynamodb://a b"}, exitUsage, "only letters"},
		{"short table name", []string{"state", "init", "dynamodb://ab"}, exitUsage, "3 to 255"},
		{"print", []string{"state", "init", "dynamodb://gluenet-state", "--print"}, 0, "AWS::DynamoDB::Table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := execute(t.Context(), tt.args, &out, &errb, func(string) (string, bool) { return "", false })
			if code != tt.code || !strings.Contains(out.String()+errb.String(), tt.contains) {
				t.Errorf("exit %d, want %d; output %q, want it to contain %q", code, tt.code, out.String()+errb.String(), tt.contains)
			}
		})
	}
}

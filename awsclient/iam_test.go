package awsclient

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"testing"
)

// TestEveryCallHasItsPermission: every operation gluenet can call has its
// IAM action, and the map names no operation it cannot call.
func TestEveryCallHasItsPermission(t *testing.T) {
	ops := map[string]bool{}
	for _, it := range []reflect.Type{reflect.TypeFor[GlueAPI](), reflect.TypeFor[EC2API](), reflect.TypeFor[LogsAPI]()} {
		for i := range it.NumMethod() {
			m := it.Method(i).Name
			ops[m] = true
			if _, ok := Permissions[m]; !ok {
				t.Errorf("%s.%s has no IAM action in Permissions", it.Name(), m)
			}
		}
	}
	for op := range Permissions {
		if !ops[op] {
			t.Errorf("Permissions names %s, which no interface calls", op)
		}
	}
}

// TestIAMPolicyGrantsEveryCall: the policy with every option (more
// candidates than one wave of lookups, logs) grants the action of every
// AWS call gluenet makes, but for the ones it does without.
func TestIAMPolicyGrantsEveryCall(t *testing.T) {
	without := map[string]string{"glue:GetJobs": "lists job names for shell completion only; gluenet works without it"}
	conns := make([]string, DefaultConcurrency+1)
	for i := range conns {
		conns[i] = fmt.Sprintf("c%d", i)
	}
	p, err := NewIAMPolicy(IAMInput{Job: "j", Connections: conns, Logs: true})
	if err != nil {
		t.Fatal(err)
	}
	granted := map[string]bool{}
	for _, st := range p.Statement {
		for _, a := range st.Action {
			granted[a] = true
		}
	}
	for op, action := range Permissions {
		if _, ok := without[action]; !ok && !granted[action] {
			t.Errorf("the policy does not grant %s, which %s needs", action, op)
		}
	}
}

// TestIAMPolicyListsConnectionsOnlyWhenDiscoveryDoes: glue:GetConnections
// is granted only for candidate lists long enough for discovery to list
// the connections instead of looking them up one by one.
func TestIAMPolicyListsConnectionsOnlyWhenDiscoveryDoes(t *testing.T) {
	tests := []struct {
		conns int
		want  bool
	}{{2, false}, {16, false}, {17, true}, {200, true}}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.conns), func(t *testing.T) {
			var conns []string
			for i := range tt.conns {
				conns = append(conns, "c"+strconv.Itoa(i))
			}
			p, err := NewIAMPolicy(IAMInput{Job: "j", Connections: conns})
			if err != nil {
				t.Fatal(err)
			}
			got := false
			for _, st := range p.Statement {
				got = got || slices.Contains(st.Action, "glue:GetConnections")
			}
			if got != tt.want {
				t.Errorf("%d connections: glue:GetConnections granted = %v, want %v", tt.conns, got, tt.want)
			}
		})
	}
}

// TestIAMPolicyAccount: an account ID is 12 digits or nothing (any).
func TestIAMPolicyAccount(t *testing.T) {
	tests := []struct {
		account string
		wantErr bool
		role    string
	}{
		{"", false, "arn:aws:iam::*:role/service-role/AWSGlueServiceRole*"},
		{"123456789012", false, "arn:aws:iam::123456789012:role/service-role/AWSGlueServiceRole*"},
		{"12345", true, ""},
		{"12345678901a", true, ""},
	}
	for _, tt := range tests {
		p, err := NewIAMPolicy(IAMInput{Job: "j", Connections: []string{"c"}, Account: tt.account})
		if (err != nil) != tt.wantErr {
			t.Errorf("account %q: err = %v, want an error: %v", tt.account, err, tt.wantErr)
			continue
		}
		if err != nil {
			if want := fmt.Sprintf("--account %q: an AWS account ID is 12 digits", tt.account); err.Error() != want {
				t.Errorf("account %q: %q, want %q", tt.account, err, want)
			}
			continue
		}
		if got := p.Statement[3].Resource; got != tt.role {
			t.Errorf("account %q: role resource %v, want %s", tt.account, got, tt.role)
		}
	}
}

package gluenet

import (
	"strings"
	"testing"
)

func TestValidateConnectionName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, wantErr string
	}{
		{"plain", "MWAA-Glue-Blog-Subnet1", ""},
		{"255 bytes", strings.Repeat("a", 255), ""},
		{"tab is in Glue's pattern", "a\tb", ""},
		{"non-ASCII letters", "réseau-privé", ""},
		{"empty", "", "empty"},
		{"256 bytes", strings.Repeat("a", 256), "at most 255"},
		{"255 runes but more bytes", strings.Repeat("é", 128), "at most 255"},
		{"space-separated list", "S1 S2", "separate them with commas (S1,S2)"},
		{"newline", "S1\nS2", "U+000A"},
		{"control character", "a\x01", "U+0001"},
		{"invalid UTF-8", "a\xffb", "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateConnectionName(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateConnectionName(%q) = %v, want nil", tt.in, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ValidateConnectionName(%q) = %v, want an error saying %q", tt.in, err, tt.wantErr)
			}
		})
	}
}

func TestMissingConnections(t *testing.T) {
	t.Parallel()
	if err := MissingConnections([]Candidate{{Connection: "a", Checked: true}, {Connection: "b", Problem: "throttled"}}); err != nil {
		t.Fatalf("no candidate is missing, got %v", err)
	}
	err := MissingConnections([]Candidate{{Connection: "x", Missing: true}, {Connection: "a", Checked: true}, {Connection: "y", Missing: true}})
	me, ok := err.(*MissingConnectionsError)
	if !ok || strings.Join(me.Names, ",") != "x,y" {
		t.Fatalf("MissingConnections = %#v, want x and y named in order", err)
	}
	if !strings.Contains(err.Error(), `connections "x", "y" do not exist`) || !strings.Contains(err.Error(), "left as it was") {
		t.Fatalf("message %q", err)
	}
}

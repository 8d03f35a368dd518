package strictyaml

import (
	"strings"
	"testing"
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

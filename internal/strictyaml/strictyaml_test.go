package strictyaml

import (
	"errors"
	"os"
	"path/filepath"
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

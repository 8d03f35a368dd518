package migrate

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

func TestLoad(t *testing.T) {
	f := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		fs      fstest.MapFS
		want    string // versions and names
		wantErr string
	}{
		{"ordered by number, not by name", fstest.MapFS{
			"m/0010_ten.sql": f("10"), "m/0002_two.sql": f("2"), "m/0001_one.sql": f("1"),
		}, "", "without gaps"},
		{"sorted", fstest.MapFS{"m/0002_b.sql": f("B"), "m/0001_a.sql": f("A"), "m/README.md": f("not SQL")}, "[1:a:A 2:b:B]", ""},
		{"empty", fstest.MapFS{"m/README.md": f("x")}, "", "no migrations"},
		{"duplicate version", fstest.MapFS{"m/0001_a.sql": f("A"), "m/001_b.sql": f("B")}, "", "without gaps or repeats"},
		{"no name", fstest.MapFS{"m/0001.sql": f("A")}, "", "want a name like"},
		{"version 0", fstest.MapFS{"m/0000_zero.sql": f("A")}, "", "want a name like"},
		{"missing dir", fstest.MapFS{}, "", "read migrations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(tt.fs, "m")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load: err = %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			var parts []string
			for _, m := range got {
				parts = append(parts, fmt.Sprintf("%d:%s:%s", m.Version, m.Name, m.SQL))
			}
			if s := fmt.Sprint(parts); s != tt.want {
				t.Errorf("Load = %s, want %s", s, tt.want)
			}
		})
	}
}

func TestPending(t *testing.T) {
	all := []Migration{{Version: 1, Name: "a"}, {Version: 2, Name: "b"}, {Version: 3, Name: "c"}}
	tests := []struct {
		name    string
		applied []int
		want    string
		wantErr bool
	}{
		{"new database", nil, "[1 2 3]", false},
		{"partly migrated", []int{1}, "[2 3]", false},
		{"up to date", []int{1, 2, 3}, "[]", false},
		{"newer database", []int{1, 2, 3, 4}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Pending(all, tt.applied)
			if tt.wantErr {
				if err == nil {
					t.Fatal("Pending succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			vs := []int{}
			for _, m := range got {
				vs = append(vs, m.Version)
			}
			if fmt.Sprint(vs) != tt.want {
				t.Errorf("Pending = %v, want %s", vs, tt.want)
			}
		})
	}
}

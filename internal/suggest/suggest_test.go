package suggest

import "testing"

func TestNearest(t *testing.T) {
	t.Parallel()
	names := []string{"strategy", "connections", "job"}
	for in, want := range map[string]string{"stratgy": "strategy", "Strategy": "strategy", "conections": "connections", "jb": "job", "colour": "", "": ""} {
		if got := Nearest(in, names); got != want {
			t.Errorf("Nearest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestName(t *testing.T) {
	t.Parallel()
	names := []string{"capacity", "weighted", "spread", "prefer-az"}
	for in, want := range map[string]string{"cap": "capacity", "weigted": "weighted", "pre": "prefer-az", "s": "spread", "zzz": "", "": ""} {
		if got := Name(in, names); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
	}
}

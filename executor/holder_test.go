package executor

import (
	"fmt"
	"os"
	"regexp"
	"testing"
)

// TestNewHolder: host/pid/8 hex digits, a new one each time.
func TestNewHolder(t *testing.T) {
	t.Parallel()
	host, _ := os.Hostname()
	re := regexp.MustCompile("^" + regexp.QuoteMeta(fmt.Sprintf("%s/%d/", host, os.Getpid())) + "[0-9a-f]{8}$")
	seen := map[string]bool{}
	for range 4 {
		h := NewHolder()
		if !re.MatchString(h) {
			t.Errorf("holder %q, want host/pid/8 hex digits", h)
		}
		seen[h] = true
	}
	if len(seen) < 2 {
		t.Errorf("four holders, %d distinct", len(seen))
	}
}

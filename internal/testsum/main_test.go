package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		wantCode int
		wantLine string
		wantText string
	}{
		{"all pass", `{"Action":"run","Package":"p","Test":"A"}
{"Action":"output","Package":"p","Test":"A","Output":"=== RUN A\n"}
{"Action":"pass","Package":"p","Test":"A"}
{"Action":"skip","Package":"p","Test":"B"}
{"Action":"output","Package":"p","Output":"ok  \tp\t0.1s\n"}
{"Action":"pass","Package":"p"}
`, 0, "tests: 1 passed, 0 failed, 1 skipped", "ok  \tp"},
		{"a failure shows its output", `{"Action":"output","Package":"p","Test":"A","Output":"boom happened\n"}
{"Action":"fail","Package":"p","Test":"A"}
{"Action":"output","Package":"p","Output":"FAIL\tp\t0.1s\n"}
{"Action":"fail","Package":"p"}
`, 1, "tests: 0 passed, 1 failed, 0 skipped", "boom happened"},
		{"build failure", `{"Action":"build-output","ImportPath":"p","Output":"x.go:1: syntax error\n"}
{"Action":"fail","Package":"p"}
`, 1, "tests: 0 passed, 0 failed, 0 skipped", "syntax error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			code := run(strings.NewReader(tt.in), &out)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d", code, tt.wantCode)
			}
			if !strings.Contains(out.String(), tt.wantLine+"\n") || !strings.Contains(out.String(), tt.wantText) {
				t.Errorf("output:\n%s\nwant %q and %q", out.String(), tt.wantLine, tt.wantText)
			}
		})
	}
}

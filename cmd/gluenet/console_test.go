package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/runner"
)

func TestConsole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tty  bool
		want string
	}{
		{"terminal: status line redrawn around records", true,
			clearLine + "attempt 1/3 · c1 · RUNNING · 3s" + clearLine + "a record\n" + "attempt 1/3 · c1 · RUNNING · 3s" +
				clearLine + "output | hello\n" + "attempt 1/3 · c1 · RUNNING · 3s" + clearLine},
		{"not a terminal: plain lines only", false, "a record\noutput | hello\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			c := &console{w: &b, tty: tt.tty}
			c.progress(3)(runner.Progress{Attempt: 1, Connection: "c1", State: "RUNNING", Elapsed: 3 * time.Second})
			c.Write([]byte("a record\n"))
			c.logLine(gluenet.LogLine{Group: "/aws-glue/jobs/output", Message: "hello\n"})
			c.done()
			if b.String() != tt.want {
				t.Fatalf("got  %q\nwant %q", b.String(), tt.want)
			}
		})
	}
}

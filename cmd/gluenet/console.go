package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/runner"
)

// console is standard error shared by log records and, on a terminal, a
// live status line: a record clears the line, prints, and redraws it. Off a
// terminal there is no status line, only plain lines.
type console struct {
	mu   sync.Mutex
	w    io.Writer
	tty  bool
	line string
}

const clearLine = "\r\033[K"

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tty && c.line != "" {
		io.WriteString(c.w, clearLine)
	}
	n, err := c.w.Write(p)
	if c.tty && c.line != "" {
		io.WriteString(c.w, c.line)
	}
	return n, err
}

// status shows s as the live status line (terminals only).
func (c *console) status(s string) {
	if !c.tty {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.line = s
	io.WriteString(c.w, clearLine+s)
}

// done removes the status line.
func (c *console) done() {
	c.status("")
}

// progress renders the runner's progress as the status line.
func (c *console) progress(attempts int) func(runner.Progress) {
	return func(p runner.Progress) {
		parts := []string{fmt.Sprintf("attempt %d/%d", p.Attempt, attempts)}
		if p.Connection != "" {
			parts = append(parts, p.Connection)
		}
		if p.State != "" {
			parts = append(parts, p.State)
		} else if p.Message != "" {
			parts = append(parts, p.Message)
		}
		if p.Elapsed > 0 {
			parts = append(parts, p.Elapsed.Round(time.Second).String())
		}
		c.status(strings.Join(parts, " · "))
	}
}

// logLine prints one event of the run's logs, like GlueJobOperator's
// verbose mode.
func (c *console) logLine(l gluenet.LogLine) {
	src := "output"
	if strings.HasSuffix(l.Group, "/error") {
		src = "error"
	}
	fmt.Fprintf(c, "%s | %s\n", src, strings.TrimRight(l.Message, "\n"))
}

//go:build failpoints

package main

import (
	"os"
	"syscall"
)

// With the failpoints build tag (crash tests only), GLUENET_FAILPOINT=NAME
// makes the process kill itself with SIGKILL at that point of an attempt,
// the way a machine dies: no deferred code, no cleanup.
func failpoint() func(string) {
	at := os.Getenv("GLUENET_FAILPOINT")
	if at == "" {
		return nil
	}
	return func(name string) {
		if name == at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
}

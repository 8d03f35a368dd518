//go:build failpoints

package executor

import (
	"os"
	"syscall"
)

// failpointAt is the point named by GLUENET_FAILPOINT, read once.
var failpointAt = os.Getenv("GLUENET_FAILPOINT")

// failpoint, in a build with the failpoints tag (crash tests only), kills
// the process with SIGKILL at the point GLUENET_FAILPOINT names, the way a
// machine dies: no deferred code, no cleanup.
func failpoint(name string) {
	if failpointAt != "" && name == failpointAt {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
}

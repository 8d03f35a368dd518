package awsclient

import (
	"os/exec"
	"syscall"
)

// setDeathSignal kills the server with the test binary, even when the binary
// dies without running TestMain's cleanup.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

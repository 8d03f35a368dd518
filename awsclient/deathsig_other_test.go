//go:build !linux

package awsclient

import "os/exec"

// setDeathSignal has no portable equivalent outside Linux; TestMain's cleanup
// stops the server.
func setDeathSignal(*exec.Cmd) {}

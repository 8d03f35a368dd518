//go:build !failpoints

package main

// failpoint is nil in normal builds: crash tests build with -tags failpoints.
func failpoint() func(string) { return nil }

//go:build !failpoints

package executor

// failpoint marks a point of an attempt where a crash test may kill the
// process ("before-update", "after-update", "after-start",
// "while-waiting", "after-reattach"). It does nothing unless gluenet is
// built with the failpoints tag (failpoint_crash.go).
func failpoint(string) {}

//go:build !unix

package bench

import "time"

// processCPU is not measured off Unix; the benchmark then omits cpu-ns/op.
func processCPU() time.Duration { return 0 }

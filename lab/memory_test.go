package lab

import (
	"testing"

	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/executor/memorytest"
	"github.com/gluenet/gluenet/health"
)

// TestMemoryConformance: the lab's in-process health memory and
// reservations pass the suite every state store's memory passes, so that
// the lab's fleet behaves as one sharing a store.
func TestMemoryConformance(t *testing.T) {
	memorytest.Run(t, func(t *testing.T) executor.Memory { return &labMemory{cfg: health.DefaultConfig()} })
}

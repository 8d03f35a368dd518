package ec2query

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"sync"
)

// UUIDFrom returns a source of random (version 4) UUIDs that reads its
// randomness from r; nil means crypto/rand. A seeded reader (for example
// math/rand/v2's ChaCha8) makes request IDs reproducible. The returned
// function is safe for concurrent use even when r is not.
func UUIDFrom(r io.Reader) func() string {
	if r == nil {
		r = rand.Reader
	}
	var mu sync.Mutex
	return func() string {
		var b [16]byte
		mu.Lock()
		_, err := io.ReadFull(r, b[:])
		mu.Unlock()
		if err != nil {
			// A request ID only correlates logs; an exhausted test reader
			// should not fail the request, so fall back to the system source.
			_, _ = rand.Read(b[:])
		}
		b[6] = b[6]&0x0f | 0x40 // version 4
		b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
		var s [36]byte
		hex.Encode(s[0:8], b[0:4])
		s[8] = '-'
		hex.Encode(s[9:13], b[4:6])
		s[13] = '-'
		hex.Encode(s[14:18], b[6:8])
		s[18] = '-'
		hex.Encode(s[19:23], b[8:10])
		s[23] = '-'
		hex.Encode(s[24:], b[10:])
		return string(s[:])
	}
}

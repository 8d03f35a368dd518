package gluenet

import "testing"

func TestSubnetUsableIPs(t *testing.T) {
	for _, tc := range []struct {
		cidr string
		want int
	}{
		{"10.192.20.0/24", 251},
		{"10.0.0.0/16", 65531},
		{"10.0.1.0/28", 11}, // the smallest subnet AWS allows
		{"10.0.1.0/29", 0},  // AWS refuses it: unknown, not negative
		{"2600:1f18::/64", 0},
		{"", 0},
		{"10.0.1.0", 0},
	} {
		if got := SubnetUsableIPs(tc.cidr); got != tc.want {
			t.Errorf("SubnetUsableIPs(%q) = %d, want %d", tc.cidr, got, tc.want)
		}
	}
}

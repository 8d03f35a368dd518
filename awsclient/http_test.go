package awsclient

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/gluenet/gluenet/sim"
)

// TestLargeResponsesOverASocket: DescribeSubnets answers of tens of KB from
// a server on a real socket (gluenet sim serve) parse every time. Without
// hideWriterTo the SDK failed within a few calls with "use of closed
// network connection"; the standard retryer hid it at the cost of extra
// round trips, so the test allows one attempt per call.
func TestLargeResponsesOverASocket(t *testing.T) {
	t.Parallel()
	sc, err := sim.LoadScenario("default")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := range 60 {
		id := fmt.Sprintf("subnet-%017x", 0x100+i)
		sc.Subnets = append(sc.Subnets, sim.SubnetSpec{ID: id, Name: fmt.Sprintf("S%d", i), CIDR: fmt.Sprintf("10.192.%d.0/24", 100+i), AZ: "us-east-1a"})
		name := fmt.Sprintf("conn-%d", i)
		sc.Connections = append(sc.Connections, sim.ConnectionSpec{Name: name, Subnet: id})
		names = append(names, name)
	}
	region, err := sim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(region.Handler())
	defer srv.Close()
	cfg, err := LoadConfig(context.Background(), Options{Region: "us-east-1", BaseEndpoint: srv.URL, MaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	if err != nil {
		t.Fatal(err)
	}
	c := New(cfg)
	for i := range 100 {
		cands, _, err := c.Discover(context.Background(), names)
		if err != nil {
			t.Fatal(err)
		}
		for _, cd := range cands {
			if !cd.Checked {
				t.Fatalf("call %d: %s unchecked: %s", i, cd.Connection, cd.Problem)
			}
		}
	}
}

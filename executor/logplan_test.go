package executor

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/gluenet/gluenet"
)

// TestLogPlanWarnsOncePerUncheckedConnection: discovery only records why a
// connection could not be checked; the plan's log says it once per
// connection, at warning level, and says nothing of the checked ones.
func TestLogPlanWarnsOncePerUncheckedConnection(t *testing.T) {
	free := 100
	plan := gluenet.Plan{Need: gluenet.Need{IPs: 2, MinIPs: 2}, Placements: []gluenet.Placement{
		{Candidate: gluenet.Candidate{Connection: "ok", SubnetID: "subnet-1", FreeIPs: 100, Checked: true}, Free: &free, Group: gluenet.GroupGood},
		{Candidate: gluenet.Candidate{Connection: "throttled", Problem: "get connection: ThrottlingException"}, Group: gluenet.GroupUnchecked},
		{Candidate: gluenet.Candidate{Connection: "gone", SubnetID: "subnet-2", Problem: "subnet subnet-2 not found"}, Group: gluenet.GroupUnchecked},
	}}
	var buf bytes.Buffer
	logPlan(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})), plan)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d warnings, want 2 (one per unchecked connection):\n%s", len(lines), buf.String())
	}
	for i, want := range []string{`connection=throttled subnet="" problem="get connection: ThrottlingException"`, `connection=gone subnet=subnet-2 problem="subnet subnet-2 not found"`} {
		if !strings.Contains(lines[i], "connection unchecked") || !strings.Contains(lines[i], want) {
			t.Errorf("warning %d = %s, want it to name %s", i, lines[i], want)
		}
	}
}

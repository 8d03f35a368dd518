package admit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
)

func pl(conn string, free int, group gluenet.Group, ejected bool) gluenet.Placement {
	p := gluenet.Placement{Candidate: gluenet.Candidate{Connection: conn, SubnetID: "subnet-" + conn, Checked: true, FreeIPs: free}, Group: group}
	p.Free = &free
	if ejected {
		t := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		p.EjectedUntil = &t
	}
	return p
}

func plan(need int, ps ...gluenet.Placement) gluenet.Plan {
	return gluenet.Plan{Need: gluenet.Need{IPs: need, MinIPs: 2}, Placements: ps}
}

func TestRoomBestShort(t *testing.T) {
	for _, tc := range []struct {
		name            string
		p               gluenet.Plan
		room, best      string // subnet IDs, "" for nil
		short           *gluenet.UnderCapacity
		shortFromSubnet string
	}{
		{name: "room in the second", p: plan(10, pl("a", 5, gluenet.GroupUsable, false), pl("b", 12, gluenet.GroupGood, false)),
			room: "subnet-b", best: "subnet-b", short: &gluenet.UnderCapacity{Needed: 10, FreeAtStart: 5, Subnet: "subnet-a"}},
		// Short looks at the plan's first startable candidate, as Glue
		// would: here the ejected one, with room.
		{name: "ejected room does not count", p: plan(10, pl("a", 50, gluenet.GroupGood, true), pl("b", 5, gluenet.GroupUsable, false)),
			best: "subnet-b", short: nil},
		{name: "no room, best has most", p: plan(10, pl("a", 3, gluenet.GroupUsable, false), pl("b", 5, gluenet.GroupUsable, false)),
			best: "subnet-b", short: &gluenet.UnderCapacity{Needed: 10, FreeAtStart: 3, Subnet: "subnet-a"}},
		{name: "first has room", p: plan(10, pl("a", 30, gluenet.GroupGood, false)), room: "subnet-a", best: "subnet-a"},
		{name: "nothing startable", p: plan(10, pl("a", 1, gluenet.GroupInsufficient, false)), best: "subnet-a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := func(p *gluenet.Placement) string {
				if p == nil {
					return ""
				}
				return p.SubnetID
			}
			if got := id(Room(tc.p)); got != tc.room {
				t.Errorf("Room = %q, want %q", got, tc.room)
			}
			if got := id(Best(tc.p)); got != tc.best {
				t.Errorf("Best = %q, want %q", got, tc.best)
			}
			got := Short(tc.p)
			if (got == nil) != (tc.short == nil) || got != nil && *got != *tc.short {
				t.Errorf("Short = %+v, want %+v", got, tc.short)
			}
		})
	}
}

func TestPredict(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	horizon := now.Add(10 * time.Minute)
	at := func(m int) time.Time { return now.Add(time.Duration(m) * time.Minute) }
	p := plan(40, pl("a", 31, gluenet.GroupUsable, false), pl("b", 10, gluenet.GroupUsable, false))
	for _, tc := range []struct {
		name    string
		flights []Flight
		want    Forecast
	}{
		{name: "nothing in flight", want: Forecast{}},
		{name: "flights elsewhere", flights: []Flight{{Subnet: "subnet-z", IPs: 40, Back: at(1)}}, want: Forecast{}},
		{name: "one run makes room", flights: []Flight{{Subnet: "subnet-a", IPs: 9, Back: at(4), Earliest: at(2)}},
			want: Forecast{Known: true, At: at(4), Earliest: at(2), Subnet: "subnet-a", Flights: 1}},
		{name: "two runs needed, the later decides", flights: []Flight{{Subnet: "subnet-a", IPs: 5, Back: at(6), Earliest: at(6)}, {Subnet: "subnet-a", IPs: 5, Back: at(3), Earliest: at(3)}},
			want: Forecast{Known: true, At: at(6), Earliest: at(6), Subnet: "subnet-a", Flights: 2}},
		{name: "the other subnet is sooner", flights: []Flight{{Subnet: "subnet-a", IPs: 9, Back: at(8), Earliest: at(8)}, {Subnet: "subnet-b", IPs: 30, Back: at(2), Earliest: at(2)}},
			want: Forecast{Known: true, At: at(2), Earliest: at(2), Subnet: "subnet-b", Flights: 1}},
		{name: "never enough", flights: []Flight{{Subnet: "subnet-a", IPs: 3, Back: at(1), Earliest: at(1)}}, want: Forecast{Known: true}},
		{name: "unknown duration counts at the horizon", flights: []Flight{{Subnet: "subnet-a", IPs: 9}},
			want: Forecast{Known: true, At: horizon, Earliest: horizon, Subnet: "subnet-a", Flights: 1, Unsure: true}},
		{name: "already back", flights: []Flight{{Subnet: "subnet-a", IPs: 9, Back: at(-1), Earliest: at(-2)}},
			want: Forecast{Known: true, At: now, Earliest: now, Subnet: "subnet-a", Flights: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Predict(p, tc.flights, now, horizon)
			if got != tc.want {
				t.Errorf("Predict = %+v\nwant      %+v", got, tc.want)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		in  string
		out WhenShort
		err bool
	}{{"", StartShort, false}, {"start", StartShort, false}, {" FAIL ", FailShort, false}, {"maybe", "", true}} {
		got, err := ParseWhenShort(tc.in)
		if (err != nil) != tc.err || got != tc.out {
			t.Errorf("ParseWhenShort(%q) = %q, %v", tc.in, got, err)
		}
	}
	if err := (Config{Wait: -time.Second}).Validate(); err == nil || !strings.Contains(err.Error(), "0 turns waiting for room off") {
		t.Errorf("negative wait: %v", err)
	}
	c := Config{Wait: 90 * time.Second, WhenShort: FailShort, Predict: true}
	b, err := json.Marshal(c)
	if err != nil || string(b) != `{"wait":"1m30s","when_short":"fail","predict":true}` {
		t.Fatalf("JSON = %s, %v", b, err)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil || back != c {
		t.Errorf("round trip = %+v, %v", back, err)
	}
	if !DefaultConfig().Enabled() || (Config{}).Enabled() {
		t.Error("the default must wait; the zero config must not")
	}
}

func TestWaiting(t *testing.T) {
	p := plan(40, pl("a", 31, gluenet.GroupUsable, false))
	p.Placements[0].Reserved = 9
	until := time.Date(2026, 12, 7, 12, 45, 0, 0, time.UTC)
	fc := Forecast{Known: true, At: until.Add(-5 * time.Minute), Subnet: "subnet-a", Flights: 2}
	got := Waiting(p, until, fc)
	want := "waiting for room: needs 40 IPs, best healthy subnet subnet-a has 31 (9 reserved for runs starting), room expected ~12:40:00 UTC in subnet-a when 2 run(s) in flight end, waiting until 12:45:00 UTC at most"
	if got != want {
		t.Errorf("Waiting =\n%s\nwant\n%s", got, want)
	}
}

func TestMedianShortestRound(t *testing.T) {
	m := time.Minute
	if got := Median([]time.Duration{5 * m, 1 * m, 3 * m}); got != 3*m {
		t.Errorf("median of 3 = %s", got)
	}
	if got := Median([]time.Duration{4 * m, 2 * m}); got != 3*m {
		t.Errorf("median of 2 = %s", got)
	}
	if Median(nil) != 0 || Shortest(nil) != 0 || Shortest([]time.Duration{3 * m, m}) != m {
		t.Error("empty or shortest wrong")
	}
	if Round(300*time.Millisecond+4*time.Millisecond) != 300*time.Millisecond || Round(61*time.Second+400*time.Millisecond) != 61*time.Second {
		t.Error("Round")
	}
}

func TestNeverRoom(t *testing.T) {
	sized := func(p gluenet.Placement, usable int) gluenet.Placement { p.UsableIPs = usable; return p }
	unchecked := pl("c", 0, gluenet.GroupUnchecked, false)
	unchecked.Free = nil
	for _, tc := range []struct {
		name    string
		p       gluenet.Plan
		largest int
		never   bool
	}{
		{name: "both /24 too small", p: plan(300, sized(pl("a", 100, gluenet.GroupUsable, false), 251), sized(pl("b", 200, gluenet.GroupUsable, false), 123)), largest: 251, never: true},
		{name: "one large enough, though full now", p: plan(300, sized(pl("a", 0, gluenet.GroupInsufficient, false), 507), sized(pl("b", 200, gluenet.GroupUsable, false), 251))},
		{name: "exactly the need", p: plan(251, sized(pl("a", 3, gluenet.GroupUsable, false), 251))},
		{name: "a size unknown", p: plan(300, sized(pl("a", 100, gluenet.GroupUsable, false), 251), pl("b", 200, gluenet.GroupUsable, false))},
		{name: "an unchecked candidate might be large", p: plan(300, sized(pl("a", 100, gluenet.GroupUsable, false), 251), unchecked)},
		{name: "an ejected small one counts like the others", p: plan(300, sized(pl("a", 100, gluenet.GroupUsable, true), 59)), largest: 59, never: true},
		{name: "no candidates", p: plan(10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			largest, never := NeverRoom(tc.p)
			if largest != tc.largest || never != tc.never {
				t.Errorf("NeverRoom = %d, %v; want %d, %v", largest, never, tc.largest, tc.never)
			}
		})
	}
}

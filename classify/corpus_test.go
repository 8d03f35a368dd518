package classify

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// corpusEntry is one real failure text of testdata/glue_errors.json.
type corpusEntry struct {
	Name        string `json:"name"`
	Text        string `json:"text"`
	Source      string `json:"source"`
	Shape       bool   `json:"shape"`
	State       string `json:"state"`
	Class       Class  `json:"class"`
	BlameSubnet bool   `json:"blame_subnet"`
	BlameAZ     bool   `json:"blame_az"`
	// NamedSubnet and NamedAZ are the place the text names that health
	// memory blames (Verdict.Subnet and AZ).
	NamedSubnet string `json:"named_subnet"`
	NamedAZ     string `json:"named_az"`
}

func loadCorpus(t *testing.T) []corpusEntry {
	t.Helper()
	b, err := os.ReadFile("testdata/glue_errors.json")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Comment string        `json:"_comment"`
		Entries []corpusEntry `json:"entries"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("testdata/glue_errors.json: %v", err)
	}
	if len(c.Entries) == 0 {
		t.Fatal("empty corpus")
	}
	return c.Entries
}

// TestCorpus runs every real text of the corpus through RunOutcome and
// checks the class and the blame it must get.
func TestCorpus(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, e := range loadCorpus(t) {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			if e.Text == "" || e.Source == "" || e.Class == "" || e.State == "" {
				t.Fatalf("entry needs text, source, state and class: %+v", e)
			}
			got := RunOutcome(e.State, e.Text)
			checkInvariants(t, got)
			if got.Class != e.Class || got.BlameSubnet != e.BlameSubnet || got.BlameAZ != e.BlameAZ {
				t.Errorf("RunOutcome(%s, %q)\n got %v\nwant class %s, blame subnet %v, blame AZ %v\nsource: %s",
					e.State, e.Text, got, e.Class, e.BlameSubnet, e.BlameAZ, e.Source)
			}
			if got.Class == Unknown {
				t.Errorf("a corpus text must be recognised, got %v", got)
			}
			if got.Subnet != e.NamedSubnet || got.AZ != e.NamedAZ {
				t.Errorf("RunOutcome(%s, %q) names subnet %q, zone %q; want %q, %q", e.State, e.Text, got.Subnet, got.AZ, e.NamedSubnet, e.NamedAZ)
			}
		})
		if seen[e.Name] {
			t.Errorf("duplicate corpus name %q", e.Name)
		}
		seen[e.Name] = true
	}
}

// TestSimMessagesAreInTheCorpus: every failure text the simulated region
// writes must carry one of the corpus's real phrases, so that the tests
// that run against the region exercise the rules real texts hit.
func TestSimMessagesAreInTheCorpus(t *testing.T) {
	t.Parallel()
	corpus := loadCorpus(t)
	// The distinctive phrases the region uses (sim/glue_model.go).
	for _, phrase := range []string{
		"Could not find connection for the given criteria",
		"Number of IP addresses on subnet is 0",
		"Could not find subnet for AZ",
		"Resource unavailable",
		"The specified subnet does not have enough free addresses to satisfy the request",
		"Error Category: UNCLASSIFIED_ERROR",
	} {
		found := false
		for _, e := range corpus {
			if strings.Contains(e.Text, phrase) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("the region's phrase %q is in no corpus text", phrase)
		}
	}
}

func TestLogUnknown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, state, msg string
		logged           bool
	}{
		{"unknown failure is logged in full", StateFailed, "Something\nnobody has seen: code 42", true},
		{"recognised failure is not logged", StateFailed, "Could not find subnet for AZ us-east-1a", false},
		{"success is not logged", StateSucceeded, "", false},
		{"a state that is not terminal is not logged", "RUNNING", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&buf, nil))
			v := RunOutcome(tt.state, tt.msg)
			LogUnknown(log, tt.state, tt.msg, v)
			if !tt.logged {
				if buf.Len() != 0 {
					t.Fatalf("logged %s", buf.String())
				}
				return
			}
			var rec map[string]any
			if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
				t.Fatalf("log line %q: %v", buf.String(), err)
			}
			if rec["error_message"] != tt.msg || rec["class"] != string(Unknown) {
				t.Fatalf("log record %v should carry the whole message and the class", rec)
			}
		})
	}
	LogUnknown(nil, StateFailed, "x", RunOutcome(StateFailed, "x")) // no logger: no panic
}

package gluenet

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxConnectionNameLength is the longest connection name Glue accepts, in
// bytes of UTF-8 (Glue API: Connection.Name, "not less than 1 or more than
// 255 bytes long, matching the Single-line string pattern").
const MaxConnectionNameLength = 255

// ValidateConnectionName checks a connection name against Glue's own limits
// before any call is made: 1 to 255 bytes of valid UTF-8 matching Glue's
// single-line string pattern ([\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-
// \uDBFF\uDFFF\t]*: no control character but tab). Glue's pattern allows a
// space, but a name with one is nearly always two names run together
// ("S1 S2"), so it is refused with a hint to separate names with commas.
func ValidateConnectionName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("a connection name is empty")
	case len(name) > MaxConnectionNameLength:
		return fmt.Errorf("connection name %.40q... is %d bytes long; Glue allows at most %d", name, len(name), MaxConnectionNameLength)
	case !utf8.ValidString(name):
		return fmt.Errorf("connection name %q is not valid UTF-8", name)
	}
	for _, r := range name {
		switch {
		case r == ' ' || (unicode.IsSpace(r) && r != '\t' && !unicode.IsControl(r)):
			return fmt.Errorf("connection name %q contains a space: to list several connections, separate them with commas (%s)",
				name, strings.Join(strings.Fields(name), ","))
		case r == '\t' || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || r >= 0x10000:
		default:
			return fmt.Errorf("connection name %q contains the character %U, which Glue does not allow in a name", name, r)
		}
	}
	return nil
}

// MissingConnectionsError says that Glue reports some candidate
// connections as not existing (EntityNotFoundException on GetConnection).
// Glue itself fails a run whose job lists such a name ("Could not find
// connection for the given criteria"), so gluenet refuses before changing
// the job.
type MissingConnectionsError struct {
	Names []string
}

func (e *MissingConnectionsError) Error() string {
	what := "connection " + quoteList(e.Names) + " does not exist"
	if len(e.Names) > 1 {
		what = "connections " + quoteList(e.Names) + " do not exist"
	}
	return what + " in this account and region (Glue: EntityNotFoundException); " +
		"check the names (`aws glue get-connections`) and the region, then list only existing connections. The job definition was left as it was."
}

// MissingConnections returns a *MissingConnectionsError naming the
// candidates Glue says do not exist, in order, or nil when there is none.
func MissingConnections(cands []Candidate) error {
	var names []string
	for _, c := range cands {
		if c.Missing {
			names = append(names, c.Connection)
		}
	}
	if len(names) == 0 {
		return nil
	}
	return &MissingConnectionsError{Names: names}
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

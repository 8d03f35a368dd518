package ec2query

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strconv"
)

// pageRequest is what MaxResults and NextToken asked for.
type pageRequest struct {
	max   int    // 0: no MaxResults, return everything left
	query string // fingerprint of the action, ids and filters
	from  *token // nil: the first page
}

// token is the content of a NextToken. It is opaque to clients (base64 of
// JSON) and bound to the query that produced it, so that a token cannot be
// replayed against a different filter and silently skip results.
type token struct {
	Version int    `json:"v"`
	Query   string `json:"q"`
	// Last is the key of the last item already returned; the next page starts
	// after it. Offset is the fallback when that item has gone in between
	// (an ENI deleted while a client pages): a later page may then repeat or
	// skip items near the boundary, as real EC2 pagination can under change.
	Last   string `json:"k"`
	Offset int    `json:"o"`
}

const tokenVersion = 1

func (t token) encode() string {
	b, _ := json.Marshal(t) // a struct of strings and ints always marshals
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeToken parses a NextToken and checks it belongs to this query. Real
// EC2 answers a bad token with InvalidParameterValue worded as below (seen
// from DescribeVpcs).
func decodeToken(s, query string) (token, error) {
	bad := &Error{Code: "InvalidParameterValue", Message: "Value ( " + clip(s) + " ) for parameter NextToken is invalid. The token is invalid."}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return token{}, bad
	}
	var t token
	if err := json.Unmarshal(b, &t); err != nil {
		return token{}, bad
	}
	if t.Version != tokenVersion || t.Query != query || t.Offset < 0 {
		return token{}, bad
	}
	return t, nil
}

// queryKey fingerprints what selects the items, not MaxResults: a client may
// change the page size between pages.
func queryKey(action string, ids []string, filters []Filter) string {
	h := sha256.New()
	put := func(s string) {
		// Length-prefixed, so that ("a,b") and ("a", "b") differ.
		h.Write([]byte(strconv.Itoa(len(s)) + ":" + s))
	}
	put(action)
	put(strconv.Itoa(len(ids)))
	for _, id := range ids {
		put(id)
	}
	put(strconv.Itoa(len(filters)))
	for _, f := range filters {
		put(f.Name)
		put(strconv.Itoa(len(f.Values)))
		for _, v := range f.Values {
			put(v)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// paginate cuts one page out of the Backend's full, stably ordered result
// and returns the token for the next page, or "" on the last one (EC2 then
// omits nextToken, which is how every paginator knows to stop).
func paginate[T any](pg pageRequest, items []T, key func(T) string) ([]T, string) {
	start := 0
	if pg.from != nil {
		start = min(pg.from.Offset, len(items))
		for i, it := range items {
			if key(it) == pg.from.Last {
				start = i + 1
				break
			}
		}
	}
	end := len(items)
	if pg.max > 0 && end-start > pg.max {
		end = start + pg.max
	}
	page := items[start:end]
	if end == len(items) {
		return page, ""
	}
	next := token{Version: tokenVersion, Query: pg.query, Last: key(items[end-1]), Offset: end}
	return page, next.encode()
}

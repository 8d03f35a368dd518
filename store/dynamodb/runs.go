package dynamodb

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gluenet/gluenet/store"
)

// The run item: pk RUN#<key>, sk RUN.
const (
	runPrefix = "RUN#"
	runSK     = "RUN"
	runsG1PK  = "RUNS"

	attrJob      = "job"
	attrStatus   = "st"
	attrInputs   = "inp"
	attrCreated  = "cr"
	attrUpdated  = "up"
	attrFinished = "fin"
	attrOutcome  = "out"
	// attrAttempts holds the run's attempts as JSON, attrAttemptsVer the
	// version a compare-and-swap of them checks, attrAttemptCount how
	// many there are (projected into the runs index, for Prune's counts).
	attrAttempts     = "att"
	attrAttemptsVer  = "aver"
	attrAttemptCount = "natt"
	// The executor's state record.
	attrStateRev  = "srev"
	attrStateData = "sdat"
	attrStateUpd  = "supd"
)

// runProjection is what the runs index holds besides the keys.
var runProjection = []string{attrJob, attrStatus, attrInputs, attrCreated, attrUpdated, attrFinished, attrOutcome, attrAttemptCount}

func runPK(key string) string { return runPrefix + key }

func decodeRun(it item) store.Run {
	r := store.Run{
		Key:        strings.TrimPrefix(getS(it, attrPK), runPrefix),
		Job:        getS(it, attrJob),
		Status:     store.RunStatus(getS(it, attrStatus)),
		CreatedAt:  getT(it, attrCreated),
		UpdatedAt:  getT(it, attrUpdated),
		FinishedAt: getT(it, attrFinished),
		Outcome:    getS(it, attrOutcome),
	}
	if in := getS(it, attrInputs); in != "" {
		r.Inputs = json.RawMessage(in)
	}
	return r
}

// BeginRun implements store.Store: one put conditioned on the run's
// absence.
func (s *Store) BeginRun(ctx context.Context, r store.Run) (store.Run, bool, error) {
	if err := r.Validate(); err != nil {
		return store.Run{}, false, fmt.Errorf("begin run: %w", err)
	}
	if r.Status == "" {
		r.Status = store.RunPending
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	it := keyOf(runPK(r.Key), runSK)
	it[attrJob], it[attrStatus] = str(r.Job), str(string(r.Status))
	it[attrG1PK], it[attrG1SK] = str(runsG1PK), str(sortTime(r.CreatedAt)+"#"+r.Key)
	if r.Inputs != nil {
		it[attrInputs] = str(string(r.Inputs))
	}
	putT(it, attrCreated, r.CreatedAt)
	putT(it, attrUpdated, r.UpdatedAt)
	putT(it, attrFinished, r.FinishedAt)
	putS(it, attrOutcome, r.Outcome)
	if r.Status.Terminal() && !r.FinishedAt.IsZero() && s.retention.Runs > 0 {
		it[attrTTL] = ttlAt(r.FinishedAt.Add(s.retention.Runs))
	}
	cctx, cancel := s.call(ctx)
	_, err := s.db.PutItem(cctx, &dynamodb.PutItemInput{
		TableName: &s.table, Item: it,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	})
	cancel()
	if err == nil {
		s.maybePrune(ctx, r.CreatedAt)
		return decodeRun(it), true, nil
	}
	if !isCondFailed(err) {
		return store.Run{}, false, fmt.Errorf("begin run %q: %w", r.Key, err)
	}
	got, err := s.GetRun(ctx, r.Key)
	if err != nil {
		return store.Run{}, false, fmt.Errorf("begin run %q: %w", r.Key, err)
	}
	return got, false, nil
}

// GetRun implements store.Store.
func (s *Store) GetRun(ctx context.Context, key string) (store.Run, error) {
	it, err := s.getItem(ctx, runPK(key), runSK, append([]string{attrPK}, runProjection...)...)
	if err != nil {
		return store.Run{}, fmt.Errorf("get run %q: %w", key, err)
	}
	if it == nil {
		return store.Run{}, fmt.Errorf("get run: run %q: %w", key, store.ErrNotFound)
	}
	return decodeRun(it), nil
}

// ListRuns implements store.Store, from the runs index (eventually
// consistent), newest first.
func (s *Store) ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("list runs: negative limit %d", f.Limit)
	}
	in := &dynamodb.QueryInput{
		IndexName:                 aws.String(indexRuns),
		KeyConditionExpression:    aws.String("#g = :g"),
		ExpressionAttributeNames:  map[string]string{"#g": attrG1PK},
		ExpressionAttributeValues: item{":g": str(runsG1PK)},
		ScanIndexForward:          aws.Bool(false),
	}
	if !f.Before.IsZero() {
		in.KeyConditionExpression = aws.String("#g = :g AND #s < :before")
		in.ExpressionAttributeNames["#s"] = attrG1SK
		in.ExpressionAttributeValues[":before"] = str(sortTime(f.Before))
	}
	since := micro(f.Since)
	out := []store.Run{}
	err := s.queryAll(ctx, in, func(it item) bool {
		r := decodeRun(it)
		if !since.IsZero() && r.CreatedAt.Before(since) {
			return false // newest first: every later one is older still
		}
		if (f.Job == "" || r.Job == f.Job) && (f.Status == "" || r.Status == f.Status) {
			out = append(out, r)
		}
		return f.Limit == 0 || len(out) < f.Limit
	})
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// updateRun applies one update to an existing run item; ErrNotFound when
// there is none.
func (s *Store) updateRun(ctx context.Context, key, op, expr string, names map[string]string, values item) error {
	names["#pk"] = attrPK
	cctx, cancel := s.call(ctx)
	defer cancel()
	_, err := s.db.UpdateItem(cctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: keyOf(runPK(key), runSK),
		UpdateExpression:          &expr,
		ConditionExpression:       aws.String("attribute_exists(#pk)"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	switch {
	case isCondFailed(err):
		return fmt.Errorf("%s: run %q: %w", op, key, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// SetRunStatus implements store.Store.
func (s *Store) SetRunStatus(ctx context.Context, key string, status store.RunStatus, at time.Time) error {
	if !status.Valid() || status.Terminal() {
		return fmt.Errorf("set run %q status: %q is not a non-terminal status (use FinishRun to finish)", key, status)
	}
	if at.IsZero() {
		return fmt.Errorf("set run %q status: the time is zero", key)
	}
	return s.updateRun(ctx, key, fmt.Sprintf("set run %q status", key),
		"SET #st = :st, #up = :up REMOVE #fin, #out, #ttl",
		map[string]string{"#st": attrStatus, "#up": attrUpdated, "#fin": attrFinished, "#out": attrOutcome, "#ttl": attrTTL},
		item{":st": str(string(status)), ":up": num(at.UnixMicro())})
}

// FinishRun implements store.Store.
func (s *Store) FinishRun(ctx context.Context, key string, status store.RunStatus, outcome string, at time.Time) error {
	if !status.Terminal() {
		return fmt.Errorf("finish run %q: %q is not a terminal status", key, status)
	}
	if at.IsZero() {
		return fmt.Errorf("finish run %q: the time is zero", key)
	}
	names := map[string]string{"#st": attrStatus, "#up": attrUpdated, "#fin": attrFinished, "#out": attrOutcome}
	values := item{":st": str(string(status)), ":at": num(at.UnixMicro())}
	set := []string{"#st = :st", "#up = :at", "#fin = :at"}
	var remove []string
	if outcome != "" {
		set = append(set, "#out = :out")
		values[":out"] = str(outcome)
	} else {
		remove = append(remove, "#out")
	}
	names["#ttl"] = attrTTL
	if s.retention.Runs > 0 {
		set = append(set, "#ttl = :ttl")
		values[":ttl"] = ttlAt(at.Add(s.retention.Runs))
	} else {
		remove = append(remove, "#ttl")
	}
	expr := "SET " + strings.Join(set, ", ")
	if len(remove) > 0 {
		expr += " REMOVE " + strings.Join(remove, ", ")
	}
	if err := s.updateRun(ctx, key, fmt.Sprintf("finish run %q", key), expr, names, values); err != nil {
		return err
	}
	s.maybePrune(ctx, at)
	return nil
}

// Attempts.

// attemptItem is an attempt as stored in the run item's JSON: unlike
// store.Attempt's own JSON, it keeps an empty OrderApplied apart from none.
type attemptItem struct {
	Number       int                 `json:"n"`
	Plan         *json.RawMessage    `json:"plan,omitempty"`
	OrderApplied []string            `json:"order"`
	GlueRunID    string              `json:"run_id,omitempty"`
	Phase        string              `json:"phase,omitempty"`
	States       []store.StateChange `json:"states,omitempty"`
	FinalState   string              `json:"final,omitempty"`
	ErrorMessage string              `json:"error,omitempty"`
	Class        string              `json:"class,omitempty"`
	StartedAt    time.Time           `json:"started,omitzero"`
	EndedAt      time.Time           `json:"ended,omitzero"`
	Subnet       string              `json:"subnet,omitempty"`
	AZ           string              `json:"az,omitempty"`
}

func encodeAttempts(atts []store.Attempt) (string, error) {
	out := make([]attemptItem, len(atts))
	for i, a := range atts {
		out[i] = attemptItem{Number: a.Number, OrderApplied: a.OrderApplied, GlueRunID: a.GlueRunID, Phase: a.Phase,
			States: a.States, FinalState: a.FinalState, ErrorMessage: a.ErrorMessage, Class: a.Class,
			StartedAt: a.StartedAt, EndedAt: a.EndedAt, Subnet: a.Subnet, AZ: a.AZ}
		if a.Plan != nil {
			out[i].Plan = &atts[i].Plan
		}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// decodeAttempts reads the run item's attempts, by number.
func decodeAttempts(it item) ([]store.Attempt, error) {
	key := strings.TrimPrefix(getS(it, attrPK), runPrefix)
	raw := getS(it, attrAttempts)
	if raw == "" {
		return []store.Attempt{}, nil
	}
	var in []attemptItem
	if err := json.Unmarshal([]byte(raw), &in); err != nil {
		return nil, fmt.Errorf("decode the attempts of run %q: %w", key, err)
	}
	out := make([]store.Attempt, len(in))
	for i, a := range in {
		out[i] = store.Attempt{RunKey: key, Number: a.Number, OrderApplied: a.OrderApplied, GlueRunID: a.GlueRunID,
			Phase: a.Phase, States: a.States, FinalState: a.FinalState, ErrorMessage: a.ErrorMessage, Class: a.Class,
			StartedAt: micro(a.StartedAt), EndedAt: micro(a.EndedAt), Subnet: a.Subnet, AZ: a.AZ}
		if a.Plan != nil {
			out[i].Plan = *a.Plan
		}
		for j := range out[i].States {
			out[i].States[j].At = micro(out[i].States[j].At)
		}
	}
	return out, nil
}

// changeAttempts reads the run's attempts, lets change edit them, and
// writes them back conditioned on their version: a compare-and-swap,
// tried again when another writer got in between.
func (s *Store) changeAttempts(ctx context.Context, key string, change func([]store.Attempt) ([]store.Attempt, error)) error {
	for try := 0; ; try++ {
		if try > 0 {
			if try >= casAttempts {
				return errContended
			}
			if err := s.backoff(ctx, try); err != nil {
				return err
			}
		}
		// The first try starts from what this process last wrote, when it
		// wrote the run's attempts last: the condition on the version
		// finds out if another writer came in between.
		atts, ver, ok := s.attempts.get(key)
		if !ok || try > 0 {
			it, err := s.getItem(ctx, runPK(key), runSK, attrPK, attrAttempts, attrAttemptsVer)
			if err != nil {
				return err
			}
			if it == nil {
				s.attempts.forget(key)
				return fmt.Errorf("run %q: %w", key, store.ErrNotFound)
			}
			if atts, err = decodeAttempts(it); err != nil {
				return err
			}
			ver = getN(it, attrAttemptsVer)
		}
		next, err := change(atts)
		if err != nil {
			return err
		}
		if next == nil {
			return nil // nothing to change
		}
		slices.SortFunc(next, func(a, b store.Attempt) int { return cmp.Compare(a.Number, b.Number) })
		b, err := encodeAttempts(next)
		if err != nil {
			return err
		}
		cond := "attribute_exists(#pk) AND "
		values := item{":att": str(b), ":next": num(ver + 1), ":n": num(int64(len(next)))}
		if ver == 0 {
			cond += "attribute_not_exists(#v)"
		} else {
			cond += "#v = :v"
			values[":v"] = num(ver)
		}
		cctx, cancel := s.call(ctx)
		_, err = s.db.UpdateItem(cctx, &dynamodb.UpdateItemInput{
			TableName: &s.table, Key: keyOf(runPK(key), runSK),
			UpdateExpression:          aws.String("SET #att = :att, #v = :next, #n = :n"),
			ConditionExpression:       &cond,
			ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#att": attrAttempts, "#v": attrAttemptsVer, "#n": attrAttemptCount},
			ExpressionAttributeValues: values,
		})
		cancel()
		if isCondFailed(err) {
			s.attempts.forget(key)
			continue // changed or deleted meanwhile: read again
		}
		if err != nil {
			s.attempts.forget(key)
			return err
		}
		s.attempts.put(key, next, ver+1)
		return nil
	}
}

// attemptCache keeps, per run, the attempts this process last wrote and
// their version: a process is usually its run's only writer, so its next
// change needs no read first. Bounded: a process writes few runs.
type attemptCache struct {
	mu sync.Mutex
	m  map[string]cachedAttempts
}

type cachedAttempts struct {
	atts []store.Attempt
	ver  int64
}

const attemptCacheSize = 64

// get returns a deep copy, which the caller may change.
func (c *attemptCache) get(key string) ([]store.Attempt, int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return nil, 0, false
	}
	return cloneAttempts(e.atts), e.ver, true
}

func (c *attemptCache) put(key string, atts []store.Attempt, ver int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= attemptCacheSize {
		c.m = map[string]cachedAttempts{}
	}
	c.m[key] = cachedAttempts{cloneAttempts(atts), ver}
}

func (c *attemptCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
}

func cloneAttempts(atts []store.Attempt) []store.Attempt {
	out := slices.Clone(atts)
	for i := range out {
		out[i].States = slices.Clone(out[i].States)
		out[i].OrderApplied = slices.Clone(out[i].OrderApplied)
	}
	return out
}

// normalize stores times as the store returns them.
func normalize(a store.Attempt) store.Attempt {
	a.StartedAt, a.EndedAt = micro(a.StartedAt), micro(a.EndedAt)
	a.States = slices.Clone(a.States)
	for i := range a.States {
		a.States[i].At = micro(a.States[i].At)
	}
	return a
}

func findAttempt(atts []store.Attempt, number int) int {
	return slices.IndexFunc(atts, func(a store.Attempt) bool { return a.Number == number })
}

func runIDConflict(recorded, want string) error {
	return fmt.Errorf("glue run id %q, but %q is recorded: %w", want, recorded, store.ErrConflict)
}

// merge writes a's non-zero fields over old, refusing a second Glue run
// id, and adds a's new state changes to the history.
func merge(old, a store.Attempt) (store.Attempt, error) {
	if a.GlueRunID != "" && old.GlueRunID != "" && a.GlueRunID != old.GlueRunID {
		return old, runIDConflict(old.GlueRunID, a.GlueRunID)
	}
	if a.Plan != nil {
		old.Plan = a.Plan
	}
	if a.OrderApplied != nil {
		old.OrderApplied = a.OrderApplied
	}
	for _, f := range []struct{ to, from *string }{
		{&old.GlueRunID, &a.GlueRunID}, {&old.Phase, &a.Phase}, {&old.FinalState, &a.FinalState},
		{&old.ErrorMessage, &a.ErrorMessage}, {&old.Class, &a.Class}, {&old.Subnet, &a.Subnet}, {&old.AZ, &a.AZ},
	} {
		if *f.from != "" {
			*f.to = *f.from
		}
	}
	if !a.StartedAt.IsZero() {
		old.StartedAt = a.StartedAt
	}
	if !a.EndedAt.IsZero() {
		old.EndedAt = a.EndedAt
	}
	for _, sc := range a.States {
		if !slices.ContainsFunc(old.States, func(o store.StateChange) bool { return o.State == sc.State && o.At.Equal(sc.At) }) {
			old.States = append(old.States, sc)
		}
	}
	// By time; changes recorded at one time keep the order of writing.
	slices.SortStableFunc(old.States, func(x, y store.StateChange) int { return x.At.Compare(y.At) })
	return old, nil
}

// PutAttempt implements store.Store.
func (s *Store) PutAttempt(ctx context.Context, a store.Attempt) error {
	if err := a.Validate(); err != nil {
		return fmt.Errorf("put attempt: %w", err)
	}
	a = normalize(a)
	err := s.changeAttempts(ctx, a.RunKey, func(atts []store.Attempt) ([]store.Attempt, error) {
		i := findAttempt(atts, a.Number)
		if i < 0 {
			fresh, _ := merge(store.Attempt{RunKey: a.RunKey, Number: a.Number}, a)
			return append(atts, fresh), nil
		}
		m, err := merge(atts[i], a)
		if err != nil {
			return nil, err
		}
		atts[i] = m
		return atts, nil
	})
	if err != nil {
		return fmt.Errorf("put attempt %d of run %q: %w", a.Number, a.RunKey, err)
	}
	return nil
}

// Attempts implements store.Store.
func (s *Store) Attempts(ctx context.Context, key string) ([]store.Attempt, error) {
	it, err := s.getItem(ctx, runPK(key), runSK, attrPK, attrAttempts)
	if err != nil {
		return nil, fmt.Errorf("attempts of run %q: %w", key, err)
	}
	if it == nil {
		return nil, fmt.Errorf("attempts of run %q: run %q: %w", key, key, store.ErrNotFound)
	}
	atts, err := decodeAttempts(it)
	if err != nil {
		return nil, fmt.Errorf("attempts of run %q: %w", key, err)
	}
	return atts, nil
}

// RecordRunID implements store.Store.
func (s *Store) RecordRunID(ctx context.Context, key string, number int, runID string, at time.Time) error {
	if key == "" || number < 1 || runID == "" || at.IsZero() {
		return fmt.Errorf("record run id: need a run key, an attempt number >= 1, a run id and a time (got %q, %d, %q, %v)",
			key, number, runID, at)
	}
	err := s.changeAttempts(ctx, key, func(atts []store.Attempt) ([]store.Attempt, error) {
		i := findAttempt(atts, number)
		if i < 0 {
			return append(atts, store.Attempt{RunKey: key, Number: number, GlueRunID: runID, StartedAt: micro(at)}), nil
		}
		a := &atts[i]
		switch {
		case a.GlueRunID != "" && a.GlueRunID != runID:
			return nil, runIDConflict(a.GlueRunID, runID)
		case a.GlueRunID == runID && !a.StartedAt.IsZero():
			return nil, nil // recorded already
		}
		a.GlueRunID = runID
		if a.StartedAt.IsZero() {
			a.StartedAt = micro(at)
		}
		return atts, nil
	})
	if err != nil {
		return fmt.Errorf("record glue run id %q for attempt %d of run %q: %w", runID, number, key, err)
	}
	return nil
}

// RunState implements store.Store.
func (s *Store) RunState(ctx context.Context, key string) (store.RunState, error) {
	it, err := s.getItem(ctx, runPK(key), runSK, attrStateRev, attrStateData, attrStateUpd)
	if err != nil {
		return store.RunState{}, fmt.Errorf("state of run %q: %w", key, err)
	}
	if it == nil || getN(it, attrStateRev) == 0 {
		return store.RunState{}, fmt.Errorf("state of run %q: %w", key, store.ErrNotFound)
	}
	return store.RunState{Key: key, Revision: getN(it, attrStateRev), Data: json.RawMessage(getS(it, attrStateData)),
		UpdatedAt: getT(it, attrStateUpd)}, nil
}

// PutRunState implements store.Store: one update conditioned on the
// stored revision.
func (s *Store) PutRunState(ctx context.Context, rs store.RunState) (int64, error) {
	if rs.Key == "" || len(rs.Data) == 0 || rs.UpdatedAt.IsZero() {
		return 0, fmt.Errorf("put run state: need a run key, data and a time")
	}
	if rs.Revision < 0 {
		return 0, fmt.Errorf("put state of run %q: revision %d is not the stored one: %w", rs.Key, rs.Revision, store.ErrConflict)
	}
	values := item{":next": num(rs.Revision + 1), ":data": str(string(rs.Data)), ":at": num(rs.UpdatedAt.UnixMicro())}
	cond := "attribute_exists(#pk) AND "
	if rs.Revision == 0 {
		cond += "attribute_not_exists(#rev)"
	} else {
		cond += "#rev = :rev"
		values[":rev"] = num(rs.Revision)
	}
	cctx, cancel := s.call(ctx)
	_, err := s.db.UpdateItem(cctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: keyOf(runPK(rs.Key), runSK),
		UpdateExpression:          aws.String("SET #rev = :next, #data = :data, #at = :at"),
		ConditionExpression:       &cond,
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#rev": attrStateRev, "#data": attrStateData, "#at": attrStateUpd},
		ExpressionAttributeValues: values,
	})
	cancel()
	if isCondFailed(err) {
		// Which condition failed: the run's existence or the revision.
		it, gerr := s.getItem(ctx, runPK(rs.Key), runSK, attrPK)
		switch {
		case gerr != nil:
			err = gerr
		case it == nil:
			err = fmt.Errorf("run %q: %w", rs.Key, store.ErrNotFound)
		default:
			err = fmt.Errorf("revision %d is not the stored one: %w", rs.Revision, store.ErrConflict)
		}
	}
	if err != nil {
		return 0, fmt.Errorf("put state of run %q: %w", rs.Key, err)
	}
	return rs.Revision + 1, nil
}

// AttemptsOf implements store.Fleet: BatchGetItem of the run items, 100
// keys a call, strongly consistent.
func (s *Store) AttemptsOf(ctx context.Context, keys []string) (map[string][]store.Attempt, error) {
	out := make(map[string][]store.Attempt)
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	for start := 0; start < len(keys); start += 100 {
		var ks []item
		for _, k := range keys[start:min(start+100, len(keys))] {
			ks = append(ks, keyOf(runPK(k), runSK))
		}
		pending := map[string]types.KeysAndAttributes{s.table: {
			Keys: ks, ConsistentRead: aws.Bool(true),
			ProjectionExpression:     aws.String("#pk, #att"),
			ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#att": attrAttempts},
		}}
		for try := 0; len(pending[s.table].Keys) > 0; try++ {
			if try > 0 {
				if try >= casAttempts {
					return nil, fmt.Errorf("attempts of %d runs: %d keys left unprocessed", len(keys), len(pending[s.table].Keys))
				}
				if err := s.backoff(ctx, try); err != nil {
					return nil, err
				}
			}
			cctx, cancel := s.call(ctx)
			res, err := s.db.BatchGetItem(cctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			cancel()
			if err != nil {
				return nil, fmt.Errorf("attempts of %d runs: %w", len(keys), err)
			}
			for _, it := range res.Responses[s.table] {
				atts, err := decodeAttempts(it)
				if err != nil {
					return nil, err
				}
				if len(atts) > 0 {
					out[strings.TrimPrefix(getS(it, attrPK), runPrefix)] = atts
				}
			}
			pending = res.UnprocessedKeys
		}
	}
	return out, nil
}

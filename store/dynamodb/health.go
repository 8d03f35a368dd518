package dynamodb

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
)

// The health item (pk and sk HEALTH) holds every record, as JSON, with the
// version that each update's compare-and-swap checks and the events of the
// last update until they are items of their own (the outbox). Events are
// items of partition HEVENT, sorted by time, then update, then position.
const (
	healthPK    = "HEALTH"
	eventPK     = "HEVENT"
	attrRecords = "recs"
	attrVersion = "ver"
	attrOutbox  = "pend"
	attrAt      = "at"
	attrScope   = "sc"
	attrKey     = "k"
	attrKind    = "kind"
	attrClass   = "cls"
	attrDetail  = "det"
)

// pendingEvent is an event in the outbox, with the sort key it gets.
type pendingEvent struct {
	SK    string            `json:"sk"`
	Event store.HealthEvent `json:"event"`
}

func eventSK(at time.Time, version int64, i int) string {
	return fmt.Sprintf("%s#%020d#%04d", sortTime(at), version, i)
}

// healthState is the health item as read.
type healthState struct {
	recs    []gluenet.HealthRecord
	version int64
	outbox  []pendingEvent
}

func (s *Store) readHealth(ctx context.Context) (healthState, error) {
	it, err := s.getItem(ctx, healthPK, healthPK)
	if err != nil || it == nil {
		return healthState{}, err
	}
	h := healthState{version: getN(it, attrVersion)}
	if raw := getS(it, attrRecords); raw != "" {
		if err := json.Unmarshal([]byte(raw), &h.recs); err != nil {
			return healthState{}, fmt.Errorf("decode the health records: %w", err)
		}
	}
	if raw := getS(it, attrOutbox); raw != "" {
		if err := json.Unmarshal([]byte(raw), &h.outbox); err != nil {
			return healthState{}, fmt.Errorf("decode the pending health events: %w", err)
		}
	}
	for i := range h.recs {
		r := &h.recs[i]
		r.EjectedUntil, r.LastFailure, r.LastSuccess = micro(r.EjectedUntil), micro(r.LastFailure), micro(r.LastSuccess)
	}
	slices.SortFunc(h.recs, func(a, b gluenet.HealthRecord) int {
		return cmp.Or(cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Key, b.Key))
	})
	return h, nil
}

// Health implements store.Store.
func (s *Store) Health(ctx context.Context) ([]gluenet.HealthRecord, error) {
	h, err := s.readHealth(ctx)
	if err != nil {
		return nil, fmt.Errorf("read health: %w", err)
	}
	if h.recs == nil {
		return []gluenet.HealthRecord{}, nil
	}
	return h.recs, nil
}

func (s *Store) eventItem(p pendingEvent) item {
	e := p.Event
	it := keyOf(eventPK, p.SK)
	it[attrAt], it[attrScope], it[attrKey], it[attrKind] = num(e.At.UnixMicro()), str(string(e.Scope)), str(e.Key), str(string(e.Kind))
	putS(it, attrClass, e.Class)
	putS(it, attrDetail, e.Detail)
	if s.retention.HealthEvents > 0 {
		it[attrTTL] = ttlAt(e.At.Add(s.retention.HealthEvents))
	}
	return it
}

func decodeEvent(it item) store.HealthEvent {
	return store.HealthEvent{At: getT(it, attrAt), Scope: gluenet.Scope(getS(it, attrScope)), Key: getS(it, attrKey),
		Kind: store.HealthEventKind(getS(it, attrKind)), Class: getS(it, attrClass), Detail: getS(it, attrDetail)}
}

// deliver writes the outbox's events as items (again, if a process that
// died wrote them already: same keys, same items).
func (s *Store) deliver(ctx context.Context, outbox []pendingEvent) error {
	reqs := make([]types.WriteRequest, 0, len(outbox))
	for _, p := range outbox {
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: s.eventItem(p)}})
	}
	return s.batchWrite(ctx, reqs)
}

// changeHealth is UpdateHealth and ResetHealth: read the health item, let
// fn compute the records and events, and swap the item if no other update
// came in between (else try again).
func (s *Store) changeHealth(ctx context.Context, fn func([]gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error)) (time.Time, error) {
	for try := 0; ; try++ {
		if try > 0 {
			if try >= casAttempts {
				return time.Time{}, errContended
			}
			if err := s.backoff(ctx, try); err != nil {
				return time.Time{}, err
			}
		}
		h, err := s.readHealth(ctx)
		if err != nil {
			return time.Time{}, fmt.Errorf("read: %w", err)
		}
		next, events, err := fn(slices.Clone(h.recs))
		if err != nil {
			return time.Time{}, err
		}
		if err := store.ValidateHealth(next); err != nil {
			return time.Time{}, err
		}
		var latest time.Time
		outbox := make([]pendingEvent, 0, len(events))
		for i, e := range events {
			if err := e.Validate(); err != nil {
				return time.Time{}, err
			}
			e.At = micro(e.At)
			if e.At.After(latest) {
				latest = e.At
			}
			outbox = append(outbox, pendingEvent{SK: eventSK(e.At, h.version+1, i), Event: e})
		}
		// A process that died after its swap left its events here: they
		// become items before this swap replaces them.
		if len(h.outbox) > 0 {
			if err := s.deliver(ctx, h.outbox); err != nil {
				return time.Time{}, fmt.Errorf("write pending events: %w", err)
			}
		}
		if next == nil {
			next = []gluenet.HealthRecord{}
		}
		recs, err := json.Marshal(next)
		if err != nil {
			return time.Time{}, err
		}
		it := keyOf(healthPK, healthPK)
		it[attrRecords], it[attrVersion] = str(string(recs)), num(h.version+1)
		if len(outbox) > 0 {
			b, err := json.Marshal(outbox)
			if err != nil {
				return time.Time{}, err
			}
			it[attrOutbox] = str(string(b))
		}
		cond, values := "attribute_not_exists(#v)", item(nil)
		if h.version > 0 {
			cond, values = "#v = :v", item{":v": num(h.version)}
		}
		cctx, cancel := s.call(ctx)
		_, err = s.db.PutItem(cctx, &dynamodb.PutItemInput{
			TableName: &s.table, Item: it,
			ConditionExpression:       &cond,
			ExpressionAttributeNames:  map[string]string{"#v": attrVersion},
			ExpressionAttributeValues: values,
		})
		cancel()
		if isCondFailed(err) {
			continue
		}
		if err != nil {
			return time.Time{}, err
		}
		if len(outbox) > 0 {
			// Committed: the events are durable in the health item. Make
			// them items and empty the outbox; if this fails, the next
			// update does it.
			if err := s.deliver(ctx, outbox); err != nil {
				s.log.WarnContext(ctx, "health events stay pending in the health item; the next update writes them", "store", "dynamodb", "err", err)
			} else if err := s.clearOutbox(ctx, h.version+1); err != nil && !isCondFailed(err) {
				s.log.WarnContext(ctx, "could not empty the health item's outbox; the next update does", "store", "dynamodb", "err", err)
			}
		}
		return latest, nil
	}
}

// clearOutbox removes the events of version from the health item, unless
// another update replaced them already.
func (s *Store) clearOutbox(ctx context.Context, version int64) error {
	cctx, cancel := s.call(ctx)
	defer cancel()
	_, err := s.db.UpdateItem(cctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: keyOf(healthPK, healthPK),
		UpdateExpression:          aws.String("REMOVE #o"),
		ConditionExpression:       aws.String("#v = :v"),
		ExpressionAttributeNames:  map[string]string{"#o": attrOutbox, "#v": attrVersion},
		ExpressionAttributeValues: item{":v": num(version)},
	})
	return err
}

// UpdateHealth implements store.Store. fn may be called more than once,
// when another update wins the race; only the last call's result is
// stored.
func (s *Store) UpdateHealth(ctx context.Context, fn func([]gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error)) error {
	latest, err := s.changeHealth(ctx, fn)
	if err != nil {
		return fmt.Errorf("update health: %w", err)
	}
	s.maybePrune(ctx, latest)
	return nil
}

// ResetHealth implements store.Store.
func (s *Store) ResetHealth(ctx context.Context, scope gluenet.Scope, key string) error {
	if err := store.ValidateScope(scope); err != nil {
		return fmt.Errorf("reset health: %w", err)
	}
	if scope == "" && key != "" {
		return fmt.Errorf("reset health: key %q needs a scope", key)
	}
	_, err := s.changeHealth(ctx, func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
		var keep, gone []gluenet.HealthRecord
		for _, r := range recs {
			if (scope == "" || r.Scope == scope) && (key == "" || r.Key == key) {
				gone = append(gone, r)
			} else {
				keep = append(keep, r)
			}
		}
		return keep, store.ResetEvents(gone, s.now()), nil
	})
	if err != nil {
		return fmt.Errorf("reset health: %w", err)
	}
	return nil
}

// HealthEvents implements store.Store: the event items, newest first,
// with the outbox's events that are not items yet.
func (s *Store) HealthEvents(ctx context.Context, limit int) ([]store.HealthEvent, error) {
	h, err := s.readHealth(ctx)
	if err != nil {
		return nil, fmt.Errorf("health events: %w", err)
	}
	type keyed struct {
		sk string
		e  store.HealthEvent
	}
	var all []keyed
	seen := map[string]bool{}
	in := &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: item{":pk": str(eventPK)},
		ConsistentRead:            aws.Bool(true),
		ScanIndexForward:          aws.Bool(false),
	}
	if limit > 0 {
		in.Limit = aws.Int32(int32(min(limit+len(h.outbox), 1000)))
	}
	err = s.queryAll(ctx, in, func(it item) bool {
		sk := getS(it, attrSK)
		seen[sk] = true
		all = append(all, keyed{sk, decodeEvent(it)})
		return limit <= 0 || len(all) < limit+len(h.outbox)
	})
	if err != nil {
		return nil, fmt.Errorf("health events: %w", err)
	}
	for _, p := range h.outbox {
		if !seen[p.SK] {
			all = append(all, keyed{p.SK, p.Event})
		}
	}
	slices.SortFunc(all, func(a, b keyed) int { return cmp.Compare(b.sk, a.sk) })
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	out := make([]store.HealthEvent, 0, len(all))
	for _, k := range all {
		k.e.At = micro(k.e.At)
		out = append(out, k.e)
	}
	return out, nil
}

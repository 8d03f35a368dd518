package dynamodb

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gluenet/gluenet/store"
)

// The last prune's time: pk META, sk PRUNE.
const (
	metaPK   = "META"
	pruneSK  = "PRUNE"
	attrDone = "done"
)

// maybePrune prunes after a write made at now, when the schedule says so
// (see store.Retention).
func (s *Store) maybePrune(ctx context.Context, now time.Time) {
	if now.IsZero() {
		return
	}
	s.prune.Maybe(ctx, s.retention, now, s.claimPrune, s.Prune, s.log, "dynamodb")
}

// claimPrune moves the last prune's time to now unless a prune ran within
// every: one conditional update, which one of several racing processes
// wins.
func (s *Store) claimPrune(ctx context.Context, now time.Time, every time.Duration) (bool, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	_, err := s.db.UpdateItem(cctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: keyOf(metaPK, pruneSK),
		UpdateExpression:          aws.String("SET #d = :now"),
		ConditionExpression:       aws.String("attribute_not_exists(#d) OR #d <= :cut"),
		ExpressionAttributeNames:  map[string]string{"#d": attrDone},
		ExpressionAttributeValues: item{":now": num(now.UnixMicro()), ":cut": num(now.Add(-every).UnixMicro())},
	})
	switch {
	case isCondFailed(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("claim prune: %w", err)
	}
	return true, nil
}

var terminal = []store.RunStatus{store.RunSucceeded, store.RunFailed, store.RunInterrupted}

// Prune implements store.Store. Finished runs are found through the runs
// index and each is deleted by a delete conditioned on its being finished
// before the cut still (a run resumed meanwhile stays).
func (s *Store) Prune(ctx context.Context, o store.PruneOptions) (store.Pruned, error) {
	if err := o.Validate(); err != nil {
		return store.Pruned{}, err
	}
	var p store.Pruned
	if !o.RunsFinishedBefore.IsZero() {
		if err := s.pruneRuns(ctx, o, &p); err != nil {
			return store.Pruned{}, fmt.Errorf("prune: %w", err)
		}
	}
	if !o.HealthEventsBefore.IsZero() {
		keys, err := s.keysBefore(ctx, eventPK, sortTime(o.HealthEventsBefore), o.Limit)
		if err == nil && !o.DryRun {
			err = s.deleteKeys(ctx, keys)
		}
		if err != nil {
			return store.Pruned{}, fmt.Errorf("prune: health events: %w", err)
		}
		p.HealthEvents = len(keys)
	}
	if !o.Now.IsZero() {
		if err := s.pruneReservations(ctx, o, &p); err != nil {
			return store.Pruned{}, fmt.Errorf("prune: expired reservations: %w", err)
		}
		if err := s.pruneCache(ctx, o, &p); err != nil {
			return store.Pruned{}, fmt.Errorf("prune: expired subnet cache entries: %w", err)
		}
	}
	return p, nil
}

func (s *Store) pruneRuns(ctx context.Context, o store.PruneOptions, p *store.Pruned) error {
	cut := micro(o.RunsFinishedBefore)
	type doomed struct {
		key      string
		finished time.Time
		attempts int
	}
	var runs []doomed
	// A run that finished before the cut was created before it: the index
	// is read from its oldest run up to the cut only.
	err := s.queryAll(ctx, &dynamodb.QueryInput{
		IndexName:                 aws.String(indexRuns),
		KeyConditionExpression:    aws.String("#g = :g AND #s < :cut"),
		ExpressionAttributeNames:  map[string]string{"#g": attrG1PK, "#s": attrG1SK},
		ExpressionAttributeValues: item{":g": str(runsG1PK), ":cut": str(sortTime(cut))},
	}, func(it item) bool {
		r := decodeRun(it)
		if r.Status.Terminal() && !r.FinishedAt.IsZero() && r.FinishedAt.Before(cut) {
			runs = append(runs, doomed{r.Key, r.FinishedAt, int(getN(it, attrAttemptCount))})
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("find finished runs: %w", err)
	}
	slices.SortFunc(runs, func(a, b doomed) int { return cmp.Or(a.finished.Compare(b.finished), cmp.Compare(a.key, b.key)) })
	if o.Limit > 0 && len(runs) > o.Limit {
		runs = runs[:o.Limit]
	}
	var statuses []string
	values := item{":cut": num(cut.UnixMicro())}
	for i, st := range terminal {
		ph := fmt.Sprintf(":s%d", i)
		statuses = append(statuses, ph)
		values[ph] = str(string(st))
	}
	cond := fmt.Sprintf("#fin < :cut AND #st IN (%s)", strings.Join(statuses, ", "))
	for _, r := range runs {
		if o.DryRun {
			p.Runs++
			p.Attempts += r.attempts
			continue
		}
		cctx, cancel := s.call(ctx)
		out, err := s.db.DeleteItem(cctx, &dynamodb.DeleteItemInput{
			TableName: &s.table, Key: keyOf(runPK(r.key), runSK),
			ConditionExpression:       &cond,
			ExpressionAttributeNames:  map[string]string{"#fin": attrFinished, "#st": attrStatus},
			ExpressionAttributeValues: values,
			ReturnValues:              types.ReturnValueAllOld,
		})
		cancel()
		switch {
		case isCondFailed(err):
			// Resumed, or deleted by another prune, since the index said.
		case err != nil:
			return fmt.Errorf("delete run %q: %w", r.key, err)
		default:
			p.Runs++
			p.Attempts += int(getN(out.Attributes, attrAttemptCount))
		}
	}
	return nil
}

func (s *Store) pruneReservations(ctx context.Context, o store.PruneOptions, p *store.Pruned) error {
	now := o.Now.UnixMicro()
	var ids []string
	if err := s.partition(ctx, resvPK, func(it item) bool {
		if getN(it, attrExpires) <= now {
			ids = append(ids, getS(it, attrSK))
		}
		return true
	}); err != nil {
		return err
	}
	for _, id := range ids {
		if o.DryRun {
			p.Reservations++
			continue
		}
		cctx, cancel := s.call(ctx)
		_, err := s.db.DeleteItem(cctx, &dynamodb.DeleteItemInput{
			TableName: &s.table, Key: keyOf(resvPK, id),
			ConditionExpression:       aws.String("#e <= :now"),
			ExpressionAttributeNames:  map[string]string{"#e": attrExpires},
			ExpressionAttributeValues: item{":now": num(now)},
		})
		cancel()
		switch {
		case isCondFailed(err): // replaced or released meanwhile
		case err != nil:
			return err
		default:
			p.Reservations++
		}
	}
	return nil
}

func (s *Store) pruneCache(ctx context.Context, o store.PruneOptions, p *store.Pruned) error {
	now := o.Now.UnixMicro()
	expired := func(entries map[string]cacheEntry) int {
		n := 0
		for _, e := range entries {
			if e.Expires <= now {
				n++
			}
		}
		return n
	}
	if o.DryRun {
		entries, _, err := s.readCache(ctx)
		p.CachedSubnets = expired(entries)
		return err
	}
	return s.changeCache(ctx, func(entries map[string]cacheEntry) bool {
		p.CachedSubnets = expired(entries)
		for c, e := range entries {
			if e.Expires <= now {
				delete(entries, c)
			}
		}
		return p.CachedSubnets > 0
	})
}

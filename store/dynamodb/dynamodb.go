// Package dynamodb is gluenet's state store on one Amazon DynamoDB table,
// for fleets on AWS (Amazon MWAA above all) that would rather not run a
// database: nothing to operate, IAM through the execution role, a gateway
// endpoint in the VPC, pay per request.
//
// # One table
//
// Every record is an item of one table whose key is two strings, pk (the
// partition key) and sk (the sort key); see docs/dynamodb.md for the whole
// design and its cost. The item types:
//
//	pk             sk            what
//	RUN#<key>      RUN           a run, its attempts (JSON in "att") and the
//	                             executor's state record ("srev", "sdat")
//	LEASE#<name>   LEASE         a job lease: holder, token, expiry
//	HEALTH         HEALTH        every health record (JSON) with a version,
//	                             and the events of the last update ("pend")
//	HEVENT         <at>#<v>#<i>  one health event, newest last in the partition
//	RESV           <id>          one reservation
//	SUBNETS        SUBNETS       the subnet cache: one attribute per connection
//	SAMPLE         <at>#<subnet>#<n>  one free-IP sample
//	META           PRUNE         when the last prune on write ran
//
// A global secondary index, "runs" (partition g1pk = "RUNS", sort g1sk =
// the creation time and key), lists runs newest first for `gluenet runs`
// and `gluenet serve`; it is the one read that is eventually consistent,
// and nothing that decides what gluenet does reads it.
//
// # Atomicity without transactions
//
// Every change the store's contract makes atomic touches one item, so it is
// one conditional write: BeginRun and AcquireLease are a put or update
// conditioned on the item's absence or the lease's expiry; PutRunState is
// an update conditioned on the stored revision; PutAttempt and RecordRunID
// rewrite the run item's attempts conditioned on their version; the subnet
// cache is one item, so PutCachedSubnets is one update. UpdateHealth and
// ResetHealth are a compare-and-swap of the HEALTH item that carries the
// update's events with it (an outbox): the events become items of their
// own afterwards, written again by the next update if a process died in
// between, and HealthEvents reads the outbox too, so that records and
// events always change together. A lost compare-and-swap is retried, with
// backoff, a bounded number of times.
//
// The store uses no TransactWriteItems: dynalite, one of the two emulators
// the tests run on, does not implement it, and one-item writes cost half as
// much as transactional ones.
//
// # Reads and time
//
// Reads that decide something (the run, its attempts and state, a lease,
// the health records, reservations, the cache) are strongly consistent.
// Times are stored as microseconds since the Unix epoch (numbers, or
// zero-padded in sort keys). Every call runs under its own deadline (see
// WithCallTimeout), so a table that does not answer fails the call.
//
// # Retention
//
// Prune deletes what the store's contract says, as the SQL stores do; the
// items also carry a TTL attribute ("ttl", epoch seconds) a day after Prune
// would delete them, so that DynamoDB deletes what no process pruned.
package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/internal/autoprune"
)

// API is the part of the DynamoDB client the store calls: exactly these
// operations (Operations lists them for IAM policies).
type API interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(context.Context, *dynamodb.BatchWriteItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	DescribeTable(context.Context, *dynamodb.DescribeTableInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// Operations are the DynamoDB actions the store calls on its table while
// gluenet runs (the API above); Init adds InitOperations.
var Operations = []string{"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchGetItem", "BatchWriteItem", "DescribeTable"}

// Store is a store.Store on one DynamoDB table.
type Store struct {
	db          API
	table       string
	now         func() time.Time
	log         *slog.Logger
	retention   store.Retention
	prune       autoprune.Schedule
	attempts    attemptCache
	callTimeout time.Duration
	// jitter returns a random duration in [0, d): the backoff between
	// compare-and-swap attempts.
	jitter func(d time.Duration) time.Duration
}

var _ store.Store = (*Store)(nil)

// Option configures Open.
type Option func(*Store)

// WithClock sets the clock that times the events ResetHealth writes. The
// default is time.Now.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithLogger sets the logger (nil: keep the default, slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.log = l
		}
	}
}

// WithRetention sets how long the store keeps what is over and how often
// its writes prune (see store.Retention). The default is
// store.DefaultRetention().
func WithRetention(r store.Retention) Option { return func(s *Store) { s.retention = r } }

// WithCallTimeout bounds each DynamoDB call, the SDK's retries included.
// The default is DefaultCallTimeout.
func WithCallTimeout(d time.Duration) Option { return func(s *Store) { s.callTimeout = d } }

// WithJitter sets the randomness of the backoff between compare-and-swap
// attempts: j(d) returns a duration in [0, d). The default is uniform.
func WithJitter(j func(d time.Duration) time.Duration) Option {
	return func(s *Store) { s.jitter = j }
}

// DefaultCallTimeout bounds one DynamoDB call unless WithCallTimeout says
// otherwise: DynamoDB answers in milliseconds; ten seconds leave room for
// the SDK's retries under throttling and end a call to an endpoint that
// accepts connections but never answers.
const DefaultCallTimeout = 10 * time.Second

// casAttempts bounds the tries of one compare-and-swap (UpdateHealth,
// PutAttempt, ...) that other writers keep beating.
const casAttempts = 50

// TableError is Open's error when the table cannot be used: it does not
// exist, or it is not gluenet's (another key schema). Only creating the
// table (gluenet state init) or naming another mends it.
type TableError struct {
	Table  string
	Reason string
	Err    error
}

func (e *TableError) Error() string {
	return fmt.Sprintf("DynamoDB table %q %s", e.Table, e.Reason)
}
func (e *TableError) Unwrap() error { return e.Err }

// Open returns the store on the table, after checking with DescribeTable
// that the table exists with gluenet's key schema. It creates nothing: see
// Init.
func Open(ctx context.Context, client API, table string, opts ...Option) (*Store, error) {
	if err := ValidateTableName(table); err != nil {
		return nil, err
	}
	s := &Store{db: client, table: table, now: time.Now, log: slog.Default(), retention: store.DefaultRetention(),
		callTimeout: DefaultCallTimeout, jitter: func(d time.Duration) time.Duration { return rand.N(d) }}
	for _, o := range opts {
		o(s)
	}
	if err := s.retention.Validate(); err != nil {
		return nil, fmt.Errorf("open dynamodb state: %w", err)
	}
	if s.callTimeout <= 0 {
		return nil, fmt.Errorf("open dynamodb state: the call timeout must be positive, got %s", s.callTimeout)
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	out, err := s.db.DescribeTable(cctx, &dynamodb.DescribeTableInput{TableName: &s.table})
	var nf *types.ResourceNotFoundException
	switch {
	case errors.As(err, &nf):
		return nil, &TableError{Table: table, Reason: "does not exist (create it with: gluenet state init dynamodb://" + table + ")", Err: err}
	case err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		return nil, fmt.Errorf("open dynamodb state: describe table %q: no answer within %s: %w", table, s.callTimeout, err)
	case err != nil:
		return nil, fmt.Errorf("open dynamodb state: describe table %q: %w", table, err)
	}
	if !gluenetKeys(out.Table) {
		return nil, &TableError{Table: table, Reason: "is not a gluenet state table: its key must be pk (string, HASH) and sk (string, RANGE)"}
	}
	return s, nil
}

// ValidateTableName checks DynamoDB's rules for table names: 3 to 255 of
// a-z, A-Z, 0-9, '_', '-' and '.'.
func ValidateTableName(table string) error {
	if len(table) < 3 || len(table) > 255 {
		return fmt.Errorf("DynamoDB table name %q: want 3 to 255 characters", table)
	}
	for _, c := range table {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("DynamoDB table name %q: only letters, digits, '_', '-' and '.' are allowed", table)
		}
	}
	return nil
}

func gluenetKeys(t *types.TableDescription) bool {
	if t == nil || len(t.KeySchema) != 2 {
		return false
	}
	for _, k := range t.KeySchema {
		switch {
		case aws.ToString(k.AttributeName) == attrPK && k.KeyType == types.KeyTypeHash:
		case aws.ToString(k.AttributeName) == attrSK && k.KeyType == types.KeyTypeRange:
		default:
			return false
		}
	}
	return true
}

// Close implements store.Store; the client holds nothing to release.
func (s *Store) Close() error { return nil }

// Table is the table's name.
func (s *Store) Table() string { return s.table }

// call bounds one DynamoDB call.
func (s *Store) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.callTimeout)
}

// backoff waits before try (from 1) of a compare-and-swap: a random time
// up to 5 ms doubled per try, at most 200 ms.
func (s *Store) backoff(ctx context.Context, try int) error {
	ceiling := min(5*time.Millisecond<<min(try, 6), 200*time.Millisecond)
	t := time.NewTimer(s.jitter(ceiling) + time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// errContended ends a compare-and-swap that lost casAttempts times.
var errContended = errors.New("gave up after other writers changed the item at every try")

// Attribute names.
const (
	attrPK  = "pk"
	attrSK  = "sk"
	attrTTL = "ttl"
	// The runs index.
	indexRuns = "runs"
	attrG1PK  = "g1pk"
	attrG1SK  = "g1sk"
)

// item is a DynamoDB item.
type item = map[string]types.AttributeValue

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func keyOf(pk, sk string) item { return item{attrPK: str(pk), attrSK: str(sk)} }

func getS(it item, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(it item, name string) int64 {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

// getT reads a time stored by putT; absent is the zero time.
func getT(it item, name string) time.Time {
	if _, ok := it[name]; !ok {
		return time.Time{}
	}
	return time.UnixMicro(getN(it, name)).UTC()
}

// putT stores t, as microseconds, unless it is zero.
func putT(it item, name string, t time.Time) {
	if !t.IsZero() {
		it[name] = num(t.UnixMicro())
	}
}

// putS stores v unless it is empty.
func putS(it item, name, v string) {
	if v != "" {
		it[name] = str(v)
	}
}

// sortTime is t in a sort key: microseconds, zero-padded so that strings
// sort as times do (for times from 1970 on).
func sortTime(t time.Time) string {
	if t.IsZero() {
		return fmt.Sprintf("%019d", 0)
	}
	return fmt.Sprintf("%019d", max(t.UnixMicro(), 0))
}

// ttlAt is the TTL attribute's value for an item Prune would delete at t:
// a day later, in epoch seconds.
func ttlAt(t time.Time) types.AttributeValue { return num(t.Add(24 * time.Hour).Unix()) }

// micro is t as the store returns it.
func micro(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Microsecond).UTC()
}

func isCondFailed(err error) bool {
	var cf *types.ConditionalCheckFailedException
	return errors.As(err, &cf)
}

// getItem reads one item, strongly consistent; nil when absent.
func (s *Store) getItem(ctx context.Context, pk, sk string, projection ...string) (item, error) {
	in := &dynamodb.GetItemInput{TableName: &s.table, Key: keyOf(pk, sk), ConsistentRead: aws.Bool(true)}
	if len(projection) > 0 {
		names := map[string]string{}
		expr := ""
		for i, p := range projection {
			ph := fmt.Sprintf("#p%d", i)
			names[ph] = p
			if i > 0 {
				expr += ", "
			}
			expr += ph
		}
		in.ProjectionExpression, in.ExpressionAttributeNames = &expr, names
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	out, err := s.db.GetItem(cctx, in)
	if err != nil {
		return nil, err
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	return out.Item, nil
}

// queryAll reads every item of the query, page by page, each page its own
// call; visit returns false to stop.
func (s *Store) queryAll(ctx context.Context, in *dynamodb.QueryInput, visit func(item) bool) error {
	in.TableName = &s.table
	for {
		cctx, cancel := s.call(ctx)
		out, err := s.db.Query(cctx, in)
		cancel()
		if err != nil {
			return err
		}
		for _, it := range out.Items {
			if !visit(it) {
				return nil
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// partition reads the items of partition pk in sort key order, strongly
// consistent.
func (s *Store) partition(ctx context.Context, pk string, visit func(item) bool) error {
	return s.queryAll(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: item{":pk": str(pk)},
		ConsistentRead:            aws.Bool(true),
	}, visit)
}

// batchWrite writes the requests, 25 per call (DynamoDB's limit), again
// until DynamoDB has processed all of them.
func (s *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	for len(reqs) > 0 {
		n := min(len(reqs), 25)
		pending := map[string][]types.WriteRequest{s.table: reqs[:n]}
		reqs = reqs[n:]
		for try := 0; len(pending[s.table]) > 0; try++ {
			if try > 0 {
				if try >= casAttempts {
					return fmt.Errorf("batch write: %d items left unprocessed", len(pending[s.table]))
				}
				if err := s.backoff(ctx, try); err != nil {
					return err
				}
			}
			cctx, cancel := s.call(ctx)
			out, err := s.db.BatchWriteItem(cctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			cancel()
			if err != nil {
				return err
			}
			pending = out.UnprocessedItems
		}
	}
	return nil
}

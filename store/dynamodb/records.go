package dynamodb

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
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

// Leases: pk LEASE#<name>, sk LEASE.
const (
	leasePrefix = "LEASE#"
	leaseSK     = "LEASE"
	attrHolder  = "hol"
	attrToken   = "tok"
	attrExpires = "exp"
)

func leaseKey(name string) item { return keyOf(leasePrefix+name, leaseSK) }

// AcquireLease implements store.Store: one update whose condition lets it
// through only when the lease is free, released, expired or the caller's.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (store.Lease, bool, error) {
	if err := store.ValidateLease(name, holder, ttl, now); err != nil {
		return store.Lease{}, false, fmt.Errorf("acquire lease: %w", err)
	}
	expires := micro(now.Add(ttl))
	cctx, cancel := s.call(ctx)
	out, err := s.db.UpdateItem(cctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: leaseKey(name),
		UpdateExpression: aws.String("SET #h = :h, #e = :e, #t = if_not_exists(#t, :zero) + :one"),
		ConditionExpression: aws.String("attribute_not_exists(#pk) OR #h = :empty OR attribute_not_exists(#e) " +
			"OR #e <= :now OR #h = :h"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#h": attrHolder, "#e": attrExpires, "#t": attrToken},
		ExpressionAttributeValues: item{":h": str(holder), ":e": num(expires.UnixMicro()), ":zero": num(0), ":one": num(1),
			":empty": str(""), ":now": num(now.UnixMicro())},
		ReturnValues: types.ReturnValueAllNew,
	})
	cancel()
	if err == nil {
		return store.Lease{Name: name, Holder: holder, Token: getN(out.Attributes, attrToken), ExpiresAt: expires}, true, nil
	}
	if !isCondFailed(err) {
		return store.Lease{}, false, fmt.Errorf("acquire lease %q for %q: %w", name, holder, err)
	}
	it, err := s.getItem(ctx, leasePrefix+name, leaseSK)
	if err != nil {
		return store.Lease{}, false, fmt.Errorf("acquire lease %q for %q: read the holder: %w", name, holder, err)
	}
	return store.Lease{Name: name, Holder: getS(it, attrHolder), Token: getN(it, attrToken), ExpiresAt: getT(it, attrExpires)}, false, nil
}

// RenewLease implements store.Store.
func (s *Store) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration, now time.Time) (store.Lease, error) {
	if err := store.ValidateLease(l.Name, l.Holder, ttl, now); err != nil {
		return store.Lease{}, fmt.Errorf("renew lease: %w", err)
	}
	expires := micro(now.Add(ttl))
	err := s.leaseUpdate(ctx, l, "SET #e = :e", item{":e": num(expires.UnixMicro())})
	switch {
	case isCondFailed(err):
		return store.Lease{}, fmt.Errorf("renew lease %q (token %d): %w", l.Name, l.Token, store.ErrLeaseLost)
	case err != nil:
		return store.Lease{}, fmt.Errorf("renew lease %q (token %d): %w", l.Name, l.Token, err)
	}
	l.ExpiresAt = expires
	return l, nil
}

// ReleaseLease implements store.Store.
func (s *Store) ReleaseLease(ctx context.Context, l store.Lease) error {
	err := s.leaseUpdate(ctx, l, "SET #h = :empty REMOVE #e", item{":empty": str("")})
	if err != nil && !isCondFailed(err) {
		return fmt.Errorf("release lease %q (token %d): %w", l.Name, l.Token, err)
	}
	return nil
}

// leaseUpdate applies expr to the lease if l still holds it.
func (s *Store) leaseUpdate(ctx context.Context, l store.Lease, expr string, values item) error {
	values[":h"], values[":t"] = str(l.Holder), num(l.Token)
	cctx, cancel := s.call(ctx)
	defer cancel()
	_, err := s.db.UpdateItem(cctx, &dynamodb.UpdateItemInput{
		TableName: &s.table, Key: leaseKey(l.Name),
		UpdateExpression:          &expr,
		ConditionExpression:       aws.String("#h = :h AND #t = :t"),
		ExpressionAttributeNames:  map[string]string{"#h": attrHolder, "#t": attrToken, "#e": attrExpires},
		ExpressionAttributeValues: values,
	})
	return err
}

// Reservations: pk RESV, sk the reservation's id.
const (
	resvPK       = "RESV"
	attrSubnet   = "sub"
	attrAZ       = "az"
	attrIPs      = "ips"
	attrRunID    = "rid"
	attrBaseline = "base"
)

// AddReservation implements store.Store.
func (s *Store) AddReservation(ctx context.Context, r gluenet.Reservation) error {
	if err := store.ValidateReservation(r); err != nil {
		return fmt.Errorf("add reservation: %w", err)
	}
	it := keyOf(resvPK, r.ID)
	it[attrSubnet], it[attrIPs], it[attrJob], it[attrBaseline] = str(r.SubnetID), num(int64(r.IPs)), str(r.Job), num(int64(r.BaselineFree))
	putS(it, attrAZ, r.AZ)
	putS(it, attrRunID, r.RunID)
	putT(it, attrCreated, r.CreatedAt)
	putT(it, attrExpires, r.ExpiresAt)
	it[attrTTL] = ttlAt(r.ExpiresAt)
	cctx, cancel := s.call(ctx)
	_, err := s.db.PutItem(cctx, &dynamodb.PutItemInput{TableName: &s.table, Item: it})
	cancel()
	if err != nil {
		return fmt.Errorf("add reservation %q: %w", r.ID, err)
	}
	s.maybePrune(ctx, r.CreatedAt)
	return nil
}

// Reservations implements store.Store.
func (s *Store) Reservations(ctx context.Context, now time.Time) ([]gluenet.Reservation, error) {
	cut := now.UnixMicro()
	out := []gluenet.Reservation{}
	err := s.partition(ctx, resvPK, func(it item) bool {
		if getN(it, attrExpires) > cut {
			out = append(out, gluenet.Reservation{ID: getS(it, attrSK), SubnetID: getS(it, attrSubnet), AZ: getS(it, attrAZ),
				IPs: int(getN(it, attrIPs)), Job: getS(it, attrJob), RunID: getS(it, attrRunID),
				BaselineFree: int(getN(it, attrBaseline)), CreatedAt: getT(it, attrCreated), ExpiresAt: getT(it, attrExpires)})
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("reservations: %w", err)
	}
	slices.SortFunc(out, func(a, b gluenet.Reservation) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// ReleaseReservation implements store.Store.
func (s *Store) ReleaseReservation(ctx context.Context, id string) error {
	cctx, cancel := s.call(ctx)
	defer cancel()
	if _, err := s.db.DeleteItem(cctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: keyOf(resvPK, id)}); err != nil {
		return fmt.Errorf("release reservation %q: %w", id, err)
	}
	return nil
}

// The subnet cache is one item (pk and sk SUBNETS): every entry in one
// JSON map, with a version that each change's compare-and-swap checks, so
// that a batch of entries is written all or none whatever its size (one
// UpdateItem of many attributes would meet DynamoDB's 4 KB limit on an
// expression).
const (
	cachePK    = "SUBNETS"
	attrCache  = "cache"
	attrCacheV = "ver"
)

// cacheEntry is one connection's cached subnet and its expiry
// (microseconds).
type cacheEntry struct {
	Subnet  string `json:"s"`
	Expires int64  `json:"e"`
}

func (s *Store) readCache(ctx context.Context) (map[string]cacheEntry, int64, error) {
	it, err := s.getItem(ctx, cachePK, cachePK)
	if err != nil {
		return nil, 0, err
	}
	entries := map[string]cacheEntry{}
	if raw := getS(it, attrCache); raw != "" {
		if err := json.Unmarshal([]byte(raw), &entries); err != nil {
			return nil, 0, fmt.Errorf("decode the subnet cache: %w", err)
		}
	}
	return entries, getN(it, attrCacheV), nil
}

// changeCache lets change edit the cache's entries and stores them if it
// reports a change, conditioned on the version read.
func (s *Store) changeCache(ctx context.Context, change func(map[string]cacheEntry) bool) error {
	for try := 0; ; try++ {
		if try > 0 {
			if try >= casAttempts {
				return errContended
			}
			if err := s.backoff(ctx, try); err != nil {
				return err
			}
		}
		entries, ver, err := s.readCache(ctx)
		if err != nil {
			return err
		}
		if !change(entries) {
			return nil
		}
		b, err := json.Marshal(entries)
		if err != nil {
			return err
		}
		it := keyOf(cachePK, cachePK)
		it[attrCache], it[attrCacheV] = str(string(b)), num(ver+1)
		cond, values := "attribute_not_exists(#v)", item(nil)
		if ver > 0 {
			cond, values = "#v = :v", item{":v": num(ver)}
		}
		cctx, cancel := s.call(ctx)
		_, err = s.db.PutItem(cctx, &dynamodb.PutItemInput{
			TableName: &s.table, Item: it,
			ConditionExpression:       &cond,
			ExpressionAttributeNames:  map[string]string{"#v": attrCacheV},
			ExpressionAttributeValues: values,
		})
		cancel()
		if !isCondFailed(err) {
			return err
		}
	}
}

// CachedSubnet implements store.Store.
func (s *Store) CachedSubnet(ctx context.Context, connection string, now time.Time) (string, bool, error) {
	entries, _, err := s.readCache(ctx)
	if err != nil {
		return "", false, fmt.Errorf("cached subnet of %q: %w", connection, err)
	}
	e, ok := entries[connection]
	if !ok || e.Expires <= now.UnixMicro() {
		return "", false, nil
	}
	return e.Subnet, true, nil
}

// CachedSubnets implements store.Store: one read of the cache item.
func (s *Store) CachedSubnets(ctx context.Context, connections []string, now time.Time) (map[string]string, error) {
	out := map[string]string{}
	if len(connections) == 0 {
		return out, nil
	}
	entries, _, err := s.readCache(ctx)
	if err != nil {
		return nil, fmt.Errorf("cached subnets: %w", err)
	}
	for _, c := range connections {
		if e, ok := entries[c]; ok && e.Expires > now.UnixMicro() {
			out[c] = e.Subnet
		}
	}
	return out, nil
}

// PutCachedSubnet implements store.Store.
func (s *Store) PutCachedSubnet(ctx context.Context, connection, subnetID string, expires time.Time) error {
	if connection == "" || subnetID == "" || expires.IsZero() {
		return fmt.Errorf("cache subnet: need a connection, a subnet and an expiry (got %q, %q, %v)", connection, subnetID, expires)
	}
	if err := s.putCache(ctx, map[string]string{connection: subnetID}, expires); err != nil {
		return fmt.Errorf("cache subnet of %q: %w", connection, err)
	}
	return nil
}

// PutCachedSubnets implements store.Store: one write of the cache item,
// so all or none.
func (s *Store) PutCachedSubnets(ctx context.Context, subnets map[string]string, expires time.Time) error {
	if err := store.ValidateCachedSubnets(subnets, expires); err != nil {
		return err
	}
	if len(subnets) == 0 {
		return nil
	}
	if err := s.putCache(ctx, subnets, expires); err != nil {
		return fmt.Errorf("cache %d subnets: %w", len(subnets), err)
	}
	return nil
}

func (s *Store) putCache(ctx context.Context, subnets map[string]string, expires time.Time) error {
	exp := expires.UnixMicro()
	return s.changeCache(ctx, func(entries map[string]cacheEntry) bool {
		for c, id := range subnets {
			entries[c] = cacheEntry{Subnet: id, Expires: exp}
		}
		return true
	})
}

// InvalidateCachedSubnet implements store.Store.
func (s *Store) InvalidateCachedSubnet(ctx context.Context, connection string) error {
	err := s.changeCache(ctx, func(entries map[string]cacheEntry) bool {
		if _, ok := entries[connection]; !ok {
			return false
		}
		delete(entries, connection)
		return true
	})
	if err != nil {
		return fmt.Errorf("invalidate cached subnet of %q: %w", connection, err)
	}
	return nil
}

// Subnet samples: pk SAMPLE, sk <at>#<subnet>#<when written><random>.
const samplePK = "SAMPLE"

// AddSubnetSamples implements store.Fleet.
func (s *Store) AddSubnetSamples(ctx context.Context, samples []store.SubnetSample) error {
	for _, x := range samples {
		if err := x.Validate(); err != nil {
			return fmt.Errorf("add subnet samples: %w", err)
		}
	}
	reqs := make([]types.WriteRequest, 0, len(samples))
	written := s.now().UnixNano()
	for i, x := range samples {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("add subnet samples: %w", err)
		}
		it := keyOf(samplePK, fmt.Sprintf("%s#%s#%019d%04d%s", sortTime(x.At), x.SubnetID, written, i, hex.EncodeToString(b[:])))
		it[attrAt], it[attrSubnet], it["free"], it["res"] = num(x.At.UnixMicro()), str(x.SubnetID), num(int64(x.FreeIPs)), num(int64(x.ReservedIPs))
		putS(it, attrAZ, x.AZ)
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
	}
	if err := s.batchWrite(ctx, reqs); err != nil {
		return fmt.Errorf("add subnet samples: %w", err)
	}
	return nil
}

// SubnetSamples implements store.Fleet.
func (s *Store) SubnetSamples(ctx context.Context, since time.Time) ([]store.SubnetSample, error) {
	out := []store.SubnetSample{}
	err := s.queryAll(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("#pk = :pk AND #sk >= :since"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: item{":pk": str(samplePK), ":since": str(sortTime(since))},
		ConsistentRead:            aws.Bool(true),
	}, func(it item) bool {
		out = append(out, store.SubnetSample{At: getT(it, attrAt), SubnetID: getS(it, attrSubnet), AZ: getS(it, attrAZ),
			FreeIPs: int(getN(it, "free")), ReservedIPs: int(getN(it, "res"))})
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("subnet samples: %w", err)
	}
	return out, nil
}

// PruneSubnetSamples implements store.Fleet.
func (s *Store) PruneSubnetSamples(ctx context.Context, before time.Time) (int, error) {
	keys, err := s.keysBefore(ctx, samplePK, sortTime(before), 0)
	if err != nil {
		return 0, fmt.Errorf("prune subnet samples: %w", err)
	}
	if err := s.deleteKeys(ctx, keys); err != nil {
		return 0, fmt.Errorf("prune subnet samples: %w", err)
	}
	return len(keys), nil
}

// keysBefore returns the keys of partition pk's items whose sort key is
// below sk, oldest first, at most limit of them (0: all).
func (s *Store) keysBefore(ctx context.Context, pk, sk string, limit int) ([]item, error) {
	var keys []item
	err := s.queryAll(ctx, &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("#pk = :pk AND #sk < :sk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: item{":pk": str(pk), ":sk": str(sk)},
		ProjectionExpression:      aws.String("#pk, #sk"),
		ConsistentRead:            aws.Bool(true),
	}, func(it item) bool {
		keys = append(keys, keyOf(getS(it, attrPK), getS(it, attrSK)))
		return limit <= 0 || len(keys) < limit
	})
	return keys, err
}

func (s *Store) deleteKeys(ctx context.Context, keys []item) error {
	reqs := make([]types.WriteRequest, 0, len(keys))
	for _, k := range keys {
		reqs = append(reqs, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}})
	}
	return s.batchWrite(ctx, reqs)
}

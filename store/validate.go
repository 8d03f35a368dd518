package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gluenet/gluenet"
)

// The checks below are shared by every implementation so that a record one
// store refuses, all stores refuse, and so that bad records fail before they
// reach the database with a message that says what is wrong.

// Validate reports whether r can be stored by BeginRun.
func (r Run) Validate() error {
	var errs []error
	if r.Key == "" {
		errs = append(errs, errors.New("run key is empty"))
	}
	if r.Job == "" {
		errs = append(errs, errors.New("job is empty"))
	}
	if r.Status != "" && !r.Status.Valid() {
		errs = append(errs, fmt.Errorf("unknown run status %q", r.Status))
	}
	if r.CreatedAt.IsZero() {
		errs = append(errs, errors.New("created time is zero"))
	}
	if r.Inputs != nil && !json.Valid(r.Inputs) {
		errs = append(errs, errors.New("inputs are not valid JSON"))
	}
	return errors.Join(errs...)
}

// Validate reports whether a can be stored by PutAttempt.
func (a Attempt) Validate() error {
	var errs []error
	if a.RunKey == "" {
		errs = append(errs, errors.New("run key is empty"))
	}
	if a.Number < 1 {
		errs = append(errs, fmt.Errorf("attempt number must be at least 1, got %d", a.Number))
	}
	if a.Plan != nil && !json.Valid(a.Plan) {
		errs = append(errs, errors.New("plan is not valid JSON"))
	}
	for i, s := range a.States {
		if s.State == "" {
			errs = append(errs, fmt.Errorf("state change %d has no state", i))
		}
		if s.At.IsZero() {
			errs = append(errs, fmt.Errorf("state change %d (%s) has a zero time", i, s.State))
		}
	}
	return errors.Join(errs...)
}

// Validate reports whether e can be appended to the health history.
func (e HealthEvent) Validate() error {
	var errs []error
	if e.At.IsZero() {
		errs = append(errs, errors.New("health event time is zero"))
	}
	if err := validScope(e.Scope); err != nil {
		errs = append(errs, err)
	}
	if e.Key == "" {
		errs = append(errs, errors.New("health event key is empty"))
	}
	if e.Kind == "" {
		errs = append(errs, errors.New("health event kind is empty"))
	}
	return errors.Join(errs...)
}

// ValidateHealth reports whether recs can replace the stored health records:
// known scopes, non-empty keys, no key twice, no negative counter.
func ValidateHealth(recs []gluenet.HealthRecord) error {
	type id struct {
		scope gluenet.Scope
		key   string
	}
	seen := make(map[id]bool, len(recs))
	var errs []error
	for _, r := range recs {
		if err := validScope(r.Scope); err != nil {
			errs = append(errs, err)
		}
		if r.Key == "" {
			errs = append(errs, fmt.Errorf("%s health record has an empty key", r.Scope))
		}
		if seen[id{r.Scope, r.Key}] {
			errs = append(errs, fmt.Errorf("%s %q appears twice", r.Scope, r.Key))
		}
		seen[id{r.Scope, r.Key}] = true
		if r.ConsecutiveFailures < 0 || r.Ejections < 0 {
			errs = append(errs, fmt.Errorf("%s %q has a negative counter", r.Scope, r.Key))
		}
	}
	return errors.Join(errs...)
}

// ValidateScope reports whether scope can select health records for
// ResetHealth: a known scope, or "" for all of them.
func ValidateScope(scope gluenet.Scope) error {
	if scope == "" {
		return nil
	}
	return validScope(scope)
}

func validScope(s gluenet.Scope) error {
	if s != gluenet.ScopeSubnet && s != gluenet.ScopeAZ {
		return fmt.Errorf("unknown health scope %q", s)
	}
	return nil
}

// ValidateReservation reports whether r can be stored by AddReservation.
func ValidateReservation(r gluenet.Reservation) error {
	var errs []error
	if r.ID == "" {
		errs = append(errs, errors.New("reservation id is empty"))
	}
	if r.SubnetID == "" {
		errs = append(errs, errors.New("reservation subnet is empty"))
	}
	if r.IPs < 0 {
		errs = append(errs, fmt.Errorf("reservation holds a negative number of IPs (%d)", r.IPs))
	}
	if r.ExpiresAt.IsZero() {
		errs = append(errs, errors.New("reservation expiry is zero"))
	}
	return errors.Join(errs...)
}

// ValidateLease reports whether a lease can be acquired or renewed with
// these arguments.
func ValidateLease(name, holder string, ttl time.Duration, now time.Time) error {
	var errs []error
	if name == "" {
		errs = append(errs, errors.New("lease name is empty"))
	}
	if holder == "" {
		errs = append(errs, errors.New("lease holder is empty"))
	}
	if ttl <= 0 {
		errs = append(errs, fmt.Errorf("lease TTL must be positive, got %v", ttl))
	}
	if now.IsZero() {
		errs = append(errs, errors.New("lease time is zero"))
	}
	return errors.Join(errs...)
}

// ValidateCachedSubnets reports whether PutCachedSubnets can store the
// entries: every connection and subnet named, and an expiry.
func ValidateCachedSubnets(subnets map[string]string, expires time.Time) error {
	var errs []error
	if expires.IsZero() && len(subnets) > 0 {
		errs = append(errs, errors.New("cache subnets: the expiry is zero"))
	}
	for conn, id := range subnets {
		if conn == "" || id == "" {
			errs = append(errs, fmt.Errorf("cache subnets: need a connection and a subnet (got %q, %q)", conn, id))
		}
	}
	return errors.Join(errs...)
}

package catalog

import (
	"errors"
	"time"
)

// A Lease is a time-bounded, exclusive claim of one holder (a replica) on a
// named resource: "crawl/<source>" while that source is crawled, the change
// log relay. A store that several replicas share grants leases so that each
// resource has at most one holder whose lease has not expired.
//
// Token is the fencing token: it is strictly greater than the token of every
// earlier grant of the same name to a different holder (or after a release
// or expiry), and unchanged while one holder renews an unexpired lease. A
// holder stamps its writes with the token it was granted (a Fence on the
// Snapshot it reconciles), so the store refuses the work of a holder that
// lost its lease (paused past the expiry) inside the write itself.
type Lease struct {
	Name   string
	Holder string
	Token  uint64
	// Acquired is when the current holder was granted it; Expires is when
	// it lapses unless renewed.
	Acquired time.Time
	Expires  time.Time
}

// Held reports whether l has a holder at now.
func (l Lease) Held(now time.Time) bool { return l.Holder != "" && now.Before(l.Expires) }

// A Fence stamps a write with the lease its writer holds: the store commits
// the write only if, at the commit and atomically with it, lease Lease is
// held (unexpired) under Token, and refuses the whole write otherwise — so a
// holder paused past its expiry, whose lease another holder has taken over
// since, cannot commit stale work even after it re-checked its lease. The
// zero Fence fences nothing.
type Fence struct {
	Lease string
	Token uint64
}

// IsZero reports whether f fences nothing.
func (f Fence) IsZero() bool { return f.Lease == "" }

// ErrFenced is wrapped by the Conflict error of a write whose Fence the
// store refused: nothing of the write was committed.
var ErrFenced = errors.New("write fenced off")

// Check returns nil when cur, the lease named f.Lease as the store holds
// it at now, admits a write fenced by f; otherwise a Conflict wrapping
// ErrFenced that says who holds the lease with which token. Stores call it
// under the lock that orders their lease grants before their commit.
func (f Fence) Check(cur Lease, now time.Time) error {
	switch {
	case f.IsZero():
		return nil
	case cur.Holder == "":
		return Errorf(Conflict, "%w: lease %s is not held (token %d); this write was fenced with token %d", ErrFenced, f.Lease, cur.Token, f.Token)
	case cur.Token != f.Token:
		return Errorf(Conflict, "%w: lease %s is held by %s with token %d; this write was fenced with token %d", ErrFenced, f.Lease, cur.Holder, cur.Token, f.Token)
	case !cur.Held(now):
		return Errorf(Conflict, "%w: lease %s of %s with token %d expired at %s", ErrFenced, f.Lease, cur.Holder, cur.Token, cur.Expires.UTC().Format(time.RFC3339))
	}
	return nil
}

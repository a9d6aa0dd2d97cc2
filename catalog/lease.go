package catalog

import "time"

// A Lease is a time-bounded, exclusive claim of one holder (a replica) on a
// named resource: "crawl/<source>" while that source is crawled, the change
// log relay. A store that several replicas share grants leases so that each
// resource has at most one holder whose lease has not expired.
//
// Token is the fencing token: it is strictly greater than the token of every
// earlier grant of the same name to a different holder (or after a release
// or expiry), and unchanged while one holder renews an unexpired lease. A
// holder stamps its writes with the token it was granted, so the work of a
// holder that lost its lease (paused past the expiry) is recognisable as
// stale.
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

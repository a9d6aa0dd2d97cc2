package webhooks

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// verdict is what one attempt's outcome means for the delivery.
type verdict int

const (
	delivered   verdict = iota // 2xx: done
	retry                      // try again on the schedule (or after Retry-After)
	unsubscribe                // 410 Gone: the receiver asked to stop; disable the endpoint
	refused                    // the guard refused the destination: retrying cannot help until the URL changes
)

// outcome maps an attempt's response or error to a verdict, the one place
// that decides retry, drop or disable. wait is the receiver's Retry-After,
// when it sent one that parses.
func outcome(status int, header http.Header, err error, now time.Time) (v verdict, wait time.Duration) {
	if err != nil {
		var ge *guardError
		if errors.As(err, &ge) {
			return refused, 0
		}
		return retry, 0
	}
	switch {
	case status >= 200 && status < 300:
		return delivered, 0
	case status == http.StatusGone:
		return unsubscribe, 0
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return retry, retryAfter(header.Get("Retry-After"), now)
	default:
		// 3xx (redirects are not followed), 4xx and 5xx are retried: a
		// receiver that is misconfigured now may be fixed by the next
		// attempt, and the schedule bounds the cost.
		return retry, 0
	}
}

// maxRetryAfter caps how long a receiver may postpone a delivery.
const maxRetryAfter = 24 * time.Hour

// retryAfter parses a Retry-After value: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		if n > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	if d < 0 {
		return 0
	}
	if d > maxRetryAfter {
		return maxRetryAfter
	}
	return d
}

// guardError marks a destination the SSRF guard refused.
type guardError struct{ err error }

func (g *guardError) Error() string { return g.err.Error() }
func (g *guardError) Unwrap() error { return g.err }

package webhooks

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/watershed-data/watershed/catalog"
)

// sender delivers one endpoint's queue. Each endpoint has its own, with its
// own concurrency limit, so a hanging or failing receiver only delays
// itself. The queue lives in the DB; the sender keeps the (due time, seq)
// of each pending delivery in a heap.
type sender struct {
	s    *Service
	id   string
	wake chan struct{}
	done chan struct{}
	quit context.CancelFunc

	mu       sync.Mutex
	due      dueHeap
	queued   map[uint64]bool // in the heap or in flight
	inflight int
}

type dueItem struct {
	at  time.Time
	seq uint64
}

type dueHeap []dueItem

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h dueHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)   { *h = append(*h, x.(dueItem)) }
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// startSenderLocked loads id's pending deliveries and starts its sender
// (when Run is running). Callers hold s.mu.
func (s *Service) startSenderLocked(id string) error {
	if s.runCtx == nil {
		return nil // Run starts it
	}
	if _, ok := s.senders[id]; ok {
		return nil
	}
	pend, err := s.q.pending(id)
	if err != nil {
		return fmt.Errorf("load pending deliveries of webhook %s: %w", id, err)
	}
	ctx, cancel := context.WithCancel(s.runCtx)
	sd := &sender{s: s, id: id, wake: make(chan struct{}, 1), done: make(chan struct{}), quit: cancel, queued: map[uint64]bool{}}
	for _, d := range pend {
		sd.queued[d.Seq] = true
		sd.due = append(sd.due, dueItem{d.NextAt, d.Seq})
	}
	heap.Init(&sd.due)
	s.senders[id] = sd
	go sd.run(ctx)
	return nil
}

// add schedules delivery seq at t (idempotent for a queued seq).
func (sd *sender) add(seq uint64, t time.Time) {
	sd.mu.Lock()
	if !sd.queued[seq] {
		sd.queued[seq] = true
		heap.Push(&sd.due, dueItem{t, seq})
	}
	sd.mu.Unlock()
	sd.poke()
}

func (sd *sender) poke() {
	select {
	case sd.wake <- struct{}{}:
	default:
	}
}

func (sd *sender) stop() {
	sd.quit()
	<-sd.done
}

func (sd *sender) size() int {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	return len(sd.queued)
}

func (sd *sender) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		close(sd.done)
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		// Start every due delivery the concurrency limit allows.
		var wait time.Duration = time.Hour
		r := sd.s.record(sd.id)
		if r != nil && r.Enabled {
			now := sd.s.now()
			sd.mu.Lock()
			for sd.due.Len() > 0 && sd.inflight < sd.s.o.Concurrency {
				next := sd.due[0]
				if next.at.After(now) {
					wait = next.at.Sub(now)
					break
				}
				heap.Pop(&sd.due)
				sd.inflight++
				wg.Add(1)
				go func(seq uint64) {
					defer wg.Done()
					again, at := sd.attempt(ctx, seq)
					sd.mu.Lock()
					sd.inflight--
					if again {
						heap.Push(&sd.due, dueItem{at, seq})
					} else {
						delete(sd.queued, seq)
					}
					sd.mu.Unlock()
					sd.poke()
				}(next.seq)
			}
			sd.mu.Unlock()
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-sd.wake:
		case <-timer.C:
		}
	}
}

// attempt makes one attempt at delivery seq and records it. It reports
// whether the delivery stays queued, and when it is due again.
func (sd *sender) attempt(ctx context.Context, seq uint64) (again bool, at time.Time) {
	s := sd.s
	var d Delivery
	found, err := s.q.get(key(keyPending, sd.id, seq), &d)
	if err != nil {
		s.log.Warn("read delivery", "webhook", sd.id, "seq", seq, "err", err)
		return true, s.now().Add(time.Second)
	}
	if !found {
		return false, time.Time{} // delivered, dead or the endpoint deleted meanwhile
	}
	r := s.record(sd.id)
	if r == nil {
		return false, time.Time{}
	}
	if !r.Enabled {
		return true, d.NextAt // paused; resumes when enabled
	}
	start := s.now()
	status, header, excerpt, err := sd.send(ctx, r, d, start)
	if ctx.Err() != nil {
		return false, time.Time{} // shutting down: the delivery stays pending on disk
	}
	latency := s.now().Sub(start)
	v, retryAfter := outcome(status, header, err, start)
	d.Attempts++
	a := Attempt{Endpoint: sd.id, Seq: d.Seq, WebhookID: d.WebhookID(), Type: d.Type, Number: d.Attempts, At: start, Status: status, Latency: latency, Response: excerpt}
	if err != nil {
		a.Error = err.Error()
	} else if v != delivered {
		a.Error = fmt.Sprintf("HTTP %d", status)
	}
	d.LastError, d.LastStatus = a.Error, status
	done, dead := false, false
	// change is this attempt's bookkeeping on the endpoint's record; it is
	// applied to the record as stored, so it keeps what a management call
	// (on any replica) changed meanwhile.
	var change endpointChange
	switch v {
	case delivered:
		a.Outcome, done = "delivered", true
		if !r.FailingSince.IsZero() || start.Sub(r.LastSuccessAt) > time.Minute {
			change = func(ep *endpointRecord) (bool, *outboxEvent) {
				changed := false
				if !ep.FailingSince.IsZero() {
					ep.FailingSince, changed = time.Time{}, true
				}
				if start.Sub(ep.LastSuccessAt) > time.Minute {
					ep.LastSuccessAt, changed = start, true // kept to the minute: no write per delivery
				}
				return changed, nil
			}
		}
	case unsubscribe:
		a.Outcome, dead = "unsubscribed", true
		d.DeadAt = start
		change = func(ep *endpointRecord) (bool, *outboxEvent) {
			if !ep.Enabled {
				return false, nil
			}
			return true, disable(ep, start, "the receiver answered 410 Gone")
		}
	default:
		a.Outcome = "retry"
		if v == refused {
			a.Outcome = "refused"
		}
		if r.FailingSince.IsZero() || s.o.DisableAfter > 0 && start.Sub(r.FailingSince) >= s.o.DisableAfter && r.Enabled {
			change = func(ep *endpointRecord) (bool, *outboxEvent) {
				if ep.FailingSince.IsZero() {
					ep.FailingSince = start
					return true, nil
				}
				if s.o.DisableAfter > 0 && start.Sub(ep.FailingSince) >= s.o.DisableAfter && ep.Enabled {
					return true, disable(ep, start, fmt.Sprintf("failing since %s without a successful delivery", ep.FailingSince.Format(time.RFC3339)))
				}
				return false, nil
			}
		}
		if d.Attempts > len(s.o.Retry) {
			a.Outcome, dead = "dead", true
			d.DeadAt = start
		} else {
			delay := s.o.Jitter(s.o.Retry[d.Attempts-1])
			if retryAfter > delay {
				delay = retryAfter
			}
			d.NextAt = start.Add(delay)
			again, at = true, d.NextAt
		}
	}
	s.m.attempts.WithLabelValues(sd.id, a.Outcome).Inc()
	s.m.latency.WithLabelValues(sd.id).Observe(latency.Seconds())
	if change != nil {
		inner := change
		change = func(ep *endpointRecord) (bool, *outboxEvent) {
			changed, ev := inner(ep)
			if changed {
				ep.UpdatedAt = start
			}
			return changed, ev
		}
	}
	st, ev, err := s.q.record(d, a, done, dead, change)
	if err != nil {
		s.log.Warn("record webhook attempt", "webhook", sd.id, "seq", seq, "err", err)
		return true, s.now().Add(time.Second)
	}
	if st != nil {
		s.mu.Lock()
		if s.eps[sd.id] != nil {
			s.eps[sd.id], s.raw[sd.id] = st.r, st.raw
			s.gen++
		}
		s.mu.Unlock()
	}
	if ev != nil {
		s.log.Warn("webhook disabled", "webhook", sd.id, "url", redactURL(st.r.URL), "reason", st.r.DisabledReason)
		s.signalOutbox()
	}
	if dead {
		return false, time.Time{}
	}
	return again, at
}

// disable turns ep off and returns the event that says so.
func disable(ep *endpointRecord, at time.Time, reason string) *outboxEvent {
	ep.Enabled, ep.DisabledReason, ep.DisabledAt = false, reason, at
	data, _ := json.Marshal(disabledData{ID: ep.ID, Name: ep.Name, URL: redactURL(ep.URL), Reason: reason})
	return &outboxEvent{Type: catalog.WebhookEndpointDisabled, Data: data}
}

// maxExcerpt bounds the response body kept in the delivery log; maxDrain
// bounds what is read to let the connection be reused.
const (
	maxExcerpt = 512
	maxDrain   = 64 << 10
)

// send posts d to r, signed with the keys active at ts.
func (sd *sender) send(ctx context.Context, r *endpointRecord, d Delivery, ts time.Time) (int, http.Header, string, error) {
	ctx, cancel := context.WithTimeout(ctx, sd.s.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, nil, "", fmt.Errorf("build request: %w", err)
	}
	id := d.WebhookID()
	req.Header.Set("Content-Type", d.ContentType)
	req.Header.Set("User-Agent", "Watershed-Webhooks/1")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", Sign(r.keys(ts), id, ts, d.Body))
	resp, err := sd.s.do(req)
	if err != nil {
		if catalog.KindOf(err) == catalog.Invalid {
			return 0, nil, "", &guardError{err}
		}
		return 0, nil, "", fmt.Errorf("post to %s: %w", redactURL(r.URL), scrubURL(err, r.URL))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxExcerpt))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	return resp.StatusCode, resp.Header, excerptOf(b), nil
}

// scrubURL removes the endpoint's full URL from an error's text (url.Error
// quotes it), since it may carry a secret.
func scrubURL(err error, raw string) error {
	msg := err.Error()
	if !strings.Contains(msg, raw) {
		return err
	}
	return fmt.Errorf("%s", strings.ReplaceAll(msg, raw, redactURL(raw)))
}

func excerptOf(b []byte) string {
	for len(b) > 0 && !utf8.Valid(b) {
		b = b[:len(b)-1] // a cut in the middle of a rune
	}
	return strings.ToValidUTF8(string(b), "")
}

// pendingCollector exports the queue depth per endpoint.
type pendingCollector struct{ s *Service }

var pendingDesc = prometheus.NewDesc("watershed_webhook_pending", "Deliveries waiting per endpoint (due or scheduled for retry).", []string{"endpoint"}, nil)

func (c *pendingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- pendingDesc }

func (c *pendingCollector) Collect(ch chan<- prometheus.Metric) {
	c.s.mu.Lock()
	senders := make(map[string]*sender, len(c.s.senders))
	for id, sd := range c.s.senders {
		senders[id] = sd
	}
	c.s.mu.Unlock()
	for id, sd := range senders {
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(sd.size()), id)
	}
}

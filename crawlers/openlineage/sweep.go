package openlineage

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// SweepResult says what one Sweep did.
type SweepResult struct {
	// Checked counts the JOB entities the openlineage source asserts.
	Checked int
	// Expired lists the jobs whose lineage was removed.
	Expired []catalog.URN
	// EdgesRemoved counts the edges tombstoned (dataset links, field links
	// and the CONTAINS links of datasets no job uses any more).
	EdgesRemoved int
	// Changes counts the change events written.
	Changes int
}

// Sweep ages out OpenLineage lineage. A push source cannot see a job being
// retired, so every JOB the openlineage source asserts whose lastEventTime
// (a live reading: the newest eventTime received, never ahead of the
// service's clock) is more than the TTL before now has its scopes
// reconciled empty: the JOB, its dataset and field links are tombstoned
// (history keeps them), and so are the datasets no other job links to.
// Jobs that keep reporting — streaming jobs emit RUNNING events — stay.
// Each expired job is one Reconcile; an error stops the sweep and the
// result says what was done until then. main calls it on a schedule.
func (s *Service) Sweep(ctx context.Context, now time.Time) (SweepResult, error) {
	s.olMu.Lock()
	defer s.olMu.Unlock()
	var res SweepResult
	var stale []jobKey
	const page = 1000
	for offset := 0; ; offset += page {
		found, err := s.cat.Search(ctx, catalog.SearchQuery{Kinds: []catalog.Kind{catalog.KindJob}, Offset: offset, Limit: page})
		if err != nil {
			return res, fmt.Errorf("list jobs: %w", err)
		}
		for _, e := range found.Entities {
			if e.Deleted() || !slices.Contains(e.Sources, SourceOpenLineage) {
				continue
			}
			res.Checked++
			last := parseLive(e.Live).lastEventTime
			if last.IsZero() {
				last = e.UpdatedAt
			}
			if now.Sub(last) <= s.ttl {
				continue
			}
			ns, _ := e.Properties["namespace"].(string)
			name, _ := e.Properties["name"].(string)
			if ns == "" || name == "" || JobURN(ns, name) != e.URN {
				s.log.Warn("stale job without its namespace and name properties; left alone", "job", e.URN)
				continue
			}
			stale = append(stale, jobKey{namespace: ns, name: name})
		}
		if len(found.Entities) < page || offset+page >= found.Total {
			break
		}
	}
	for _, key := range stale {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		b := &batch{s: s, jobs: map[jobKey]*jobWork{}}
		jw, err := b.job(ctx, key)
		if err != nil {
			return res, err
		}
		jw.expire = true
		r, err := b.reconcile(ctx)
		if err != nil {
			return res, fmt.Errorf("expire job %s: %w", jw.urn, err)
		}
		res.Expired = append(res.Expired, jw.urn)
		res.EdgesRemoved += r.EdgesRemoved
		res.Changes += r.Changes
		s.log.Info("expired job", "job", jw.urn, "ttl", s.ttl, "edgesRemoved", r.EdgesRemoved)
	}
	return res, nil
}

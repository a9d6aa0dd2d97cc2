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
	// ExpiredDatasets lists the datasets that DatasetEvents described and
	// that aged out (no job uses them, no DatasetEvent within the TTL).
	ExpiredDatasets []catalog.URN
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
			ns, okNS := e.Properties["namespace"].(string)
			name, okName := e.Properties["name"].(string)
			if !okNS || !okName || JobURN(ns, name) != e.URN {
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
		b := newBatch(s)
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
	if err := s.sweepDatasets(ctx, now, &res); err != nil {
		return res, err
	}
	return res, nil
}

// sweepDatasets ages out the datasets DatasetEvents described (their
// lastEventTime is a live reading) once no job links to them and no
// DatasetEvent described them within the TTL. Datasets that jobs use go
// with their last job instead.
func (s *Service) sweepDatasets(ctx context.Context, now time.Time, res *SweepResult) error {
	var stale []catalog.URN
	const page = 1000
	for offset := 0; ; offset += page {
		found, err := s.cat.Search(ctx, catalog.SearchQuery{Kinds: []catalog.Kind{catalog.KindTable, catalog.KindDataset}, Offset: offset, Limit: page})
		if err != nil {
			return fmt.Errorf("list datasets: %w", err)
		}
		for _, e := range found.Entities {
			if e.Deleted() || !slices.Contains(e.Sources, SourceOpenLineage) {
				continue
			}
			last := parseLive(e.Live).lastEventTime
			if last.IsZero() || now.Sub(last) <= s.ttl {
				continue
			}
			stale = append(stale, e.URN)
		}
		if len(found.Entities) < page || offset+page >= found.Total {
			break
		}
	}
	slices.Sort(stale)
	for _, u := range stale {
		if err := ctx.Err(); err != nil {
			return err
		}
		used, err := s.datasetInUse(ctx, u, nil)
		if err != nil {
			return err
		}
		if used {
			continue
		}
		b := newBatch(s)
		b.expireDatasets = []catalog.URN{u}
		r, err := b.reconcile(ctx)
		if err != nil {
			return fmt.Errorf("expire dataset %s: %w", u, err)
		}
		res.ExpiredDatasets = append(res.ExpiredDatasets, u)
		res.EdgesRemoved += r.EdgesRemoved
		res.Changes += r.Changes
		s.log.Info("expired dataset", "dataset", u, "ttl", s.ttl, "edgesRemoved", r.EdgesRemoved)
	}
	return nil
}

package lineage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/changelog"
)

// SubscriptionName is the Propagator's durable change-log cursor. A change
// in what propagation computes bumps its version, so that the next start
// recomputes everything under the new name.
const SubscriptionName = "propagation/v1"

// Writer applies propagated attachments; catalog.Writer satisfies it.
type Writer interface {
	Apply(ctx context.Context, b catalog.Batch) ([]catalog.Change, error)
}

// Subscriber runs a durable change-log subscription; *changelog.Changelog
// satisfies it.
type Subscriber interface {
	Run(ctx context.Context, s changelog.Subscription) error
}

// Options configure a Propagator.
type Options struct {
	Graph      PropagationGraph
	Writer     Writer
	Subscriber Subscriber
	Logger     *slog.Logger
	// Registerer receives the propagation metrics; nil registers none.
	Registerer prometheus.Registerer
	// Resync is the interval of the full recompute that heals what a
	// skipped entry left behind; zero means 15 minutes, negative never.
	Resync time.Duration
	// ChunkSize bounds the mutations of one catalog write; zero means 5000.
	ChunkSize int
	// BatchSize bounds the change-log entries handled at once; zero takes
	// the subscriber's default.
	BatchSize int
	// MaxAttempts bounds the attempts at one batch before it is skipped
	// (and left to the next resync); zero means 10.
	MaxAttempts int
	// Now is the clock (lag metric); nil means time.Now.
	Now func() time.Time
}

// Propagator keeps the catalog's propagated attachments equal to Desired.
// It is safe for one Run at a time.
type Propagator struct {
	o      Options
	logger *slog.Logger
	m      *metrics

	mu        sync.Mutex // serialises batches and full recomputes
	origins   map[Origin]*originState
	touchedBy map[catalog.URN]map[Origin]struct{}
	atURN     map[catalog.URN]map[Origin]struct{}
	position  uint64 // last entry handled (for the lag metric)
}

// originState is what an origin reached when last written.
type originState struct {
	reached map[catalog.URN][]catalog.URN
	order   []catalog.URN // the keys of reached, sorted
	touched []catalog.URN
}

// New returns a Propagator. It does no I/O.
func New(o Options) *Propagator {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Resync == 0 {
		o.Resync = 15 * time.Minute
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = 5000
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	p := &Propagator{
		o: o, logger: o.Logger.With("component", "propagation"),
		origins: map[Origin]*originState{}, touchedBy: map[catalog.URN]map[Origin]struct{}{}, atURN: map[catalog.URN]map[Origin]struct{}{},
	}
	p.m = newMetrics(o.Registerer, p)
	return p
}

// Run recomputes every origin from the catalog as it is (so a restart
// converges whatever a crash interrupted), then follows the change log
// under SubscriptionName until ctx ends, with a full recompute every
// Options.Resync. It returns ctx's error, or earlier when the catalog is
// closed or the subscription cannot run.
func (p *Propagator) Run(ctx context.Context) error {
	var seq uint64
	for attempt := 0; ; attempt++ {
		var err error
		if seq, err = p.o.Graph.LastSeq(ctx); err == nil {
			err = p.RecomputeAll(ctx)
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil || errors.Is(err, catalog.ErrClosed) {
			return err
		}
		wait := min(time.Duration(1<<min(attempt, 5))*time.Second, 30*time.Second)
		p.logger.Warn("initial recompute failed; retrying", "err", err, "in", wait)
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
	p.mu.Lock()
	p.position = seq
	p.mu.Unlock()
	if p.o.Resync > 0 {
		go p.resync(ctx)
	}
	return p.o.Subscriber.Run(ctx, changelog.Subscription{
		Name: SubscriptionName,
		// The recompute above covers everything up to seq.
		Start: func(context.Context, uint64) (uint64, error) { return seq, nil },
		// No Types filter: Handle sees every batch, so its position (the
		// backlog and lag metrics) follows the cursor.
		Handle:      p.Handle,
		BatchSize:   p.o.BatchSize,
		MaxAttempts: p.o.MaxAttempts,
	})
}

func (p *Propagator) resync(ctx context.Context) {
	t := time.NewTicker(p.o.Resync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := p.RecomputeAll(ctx); err != nil && ctx.Err() == nil {
				p.logger.Warn("periodic recompute", "err", err)
			}
		}
	}
}

// RecomputeAll computes every origin's closure from scratch, compares it
// with what the catalog stores and writes the difference (no cause: no
// entry caused it). Run calls it at start and every Options.Resync.
func (p *Propagator) RecomputeAll(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.recomputeAll(ctx)
}

func (p *Propagator) recomputeAll(ctx context.Context) error {
	start := time.Now()
	c, err := readCarriers(ctx, p.o.Graph)
	if err != nil {
		return err
	}
	next := map[Origin]*originState{}
	var muts []catalog.Mutation
	desired := map[Key]bool{}
	for _, o := range c.origins {
		st, err := p.compute(ctx, o)
		if err != nil {
			return err
		}
		next[o] = st
		for _, u := range st.order {
			path := st.reached[u]
			k := Key{URN: u, Origin: o.URN, Classification: o.Classification}
			desired[k] = true
			if old, ok := c.stored[k]; !ok || !slices.Equal(old, path) {
				muts = append(muts, catalog.Propagate{URN: u, Origin: o.URN, Classification: o.Classification, Path: path})
			}
		}
	}
	var stale []Key
	for k := range c.stored {
		if !desired[k] {
			stale = append(stale, k)
		}
	}
	sortKeys(stale)
	for _, k := range stale {
		muts = append(muts, catalog.Retract{URN: k.URN, Origin: k.Origin, Classification: k.Classification})
	}
	if err := p.write(ctx, map[string][]catalog.Mutation{"": muts}); err != nil {
		return err
	}
	p.replace(next)
	p.m.recomputes.WithLabelValues("full").Inc()
	p.logger.Info("propagation recomputed", "origins", len(next), "writes", len(muts), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// compute runs the closure of o into an originState.
func (p *Propagator) compute(ctx context.Context, o Origin) (*originState, error) {
	r, err := Closure(ctx, p.o.Graph, o.URN, o.Classification)
	if err != nil {
		return nil, fmt.Errorf("closure of %s from %s: %w", o.Classification, o.URN, err)
	}
	st := &originState{reached: make(map[catalog.URN][]catalog.URN, len(r.Reached)), order: make([]catalog.URN, len(r.Reached)), touched: r.Touched}
	for i, x := range r.Reached {
		st.reached[x.URN] = clipPath(x.Path)
		st.order[i] = x.URN
	}
	return st, nil
}

// Handle handles one batch of change-log entries: it finds the origins the
// entries can affect, recomputes them and writes the difference, each write
// caused by the last entry that affected its origin. It is the
// subscription's handler; tests call it directly.
func (p *Propagator) Handle(ctx context.Context, batch []changelog.Entry) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	began := p.o.Now()
	affected := map[Origin]string{}     // origin → cause
	recheck := map[catalog.URN]string{} // entities whose origins to re-read → cause
	dirty := map[catalog.URN]string{}   // nodes whose edges or liveness changed → cause
	recreated := map[catalog.URN]bool{} // entities that may have lost what we wrote
	var born []catalog.URN
	full := ""
	for _, e := range batch {
		if e.Actor == catalog.ActorPropagation {
			continue // our own writes
		}
		id := e.ID()
		switch {
		case e.Type.Family("lineage.edge"):
			d, err := e.EdgeData()
			if err != nil {
				p.logger.Warn("skip undecodable entry", "seq", e.Seq, "err", err)
				continue
			}
			dirty[d.From], dirty[d.To] = id, id
			claims := d.Claims
			if d.Before != nil {
				claims = append(claims, d.Before.Claims...)
			}
			for _, cl := range claims {
				for _, v := range cl.Via {
					dirty[v] = id // its pass-through status may change
				}
			}
		case e.Type == catalog.AssetCreated || e.Type == catalog.SchemaVersionAdded:
			dirty[e.Subject], recheck[e.Subject], recreated[e.Subject] = id, id, true
			born = append(born, e.Subject)
		case e.Type == catalog.AssetDeleted:
			dirty[e.Subject], recheck[e.Subject] = id, id
		case e.Type == catalog.ClassificationAttached || e.Type == catalog.ClassificationDetached:
			recheck[e.Subject] = id
		case e.Type == catalog.ClassificationDefined:
			full = id // propagates or passesMasking may have changed
		}
	}
	if full != "" {
		if err := p.recomputeAll(ctx); err != nil {
			return err
		}
		p.advance(batch, began)
		return nil
	}
	if len(p.touchedBy) > 0 && len(born) > 0 {
		// A recreated entity's neighbours may have skipped it while it was
		// a tombstone: they are what a walk would reach it from.
		if err := p.neighbours(ctx, born, dirty); err != nil {
			return err
		}
	}
	for u, id := range dirty {
		for o := range p.touchedBy[u] {
			affected[o] = later(affected[o], id)
		}
	}
	// Re-read the entities whose direct attachments may have changed.
	urns := sortedKeys(recheck)
	for o := range affected {
		if _, ok := recheck[o.URN]; !ok {
			urns = append(urns, o.URN)
		}
	}
	valid := map[Origin]bool{}
	if len(urns) > 0 {
		defs, err := p.o.Graph.Classifications(ctx)
		if err != nil {
			return fmt.Errorf("read classification definitions: %w", err)
		}
		dm := make(map[string]catalog.ClassificationDef, len(defs))
		for _, d := range defs {
			dm[d.Name] = d
		}
		ents, err := p.o.Graph.Entities(ctx, urns)
		if err != nil {
			return fmt.Errorf("read %d entities: %w", len(urns), err)
		}
		for _, e := range ents {
			for _, o := range originsOf(e, dm) {
				valid[o] = true
				if id, ok := recheck[o.URN]; ok {
					affected[o] = later(affected[o], id)
				}
			}
		}
		for u, id := range recheck {
			for o := range p.atURN[u] {
				affected[o] = later(affected[o], id) // it may have stopped being one
			}
		}
	}
	if len(affected) == 0 {
		p.advance(batch, began)
		return nil
	}
	computeStart := time.Now()
	byCause := map[string][]catalog.Mutation{}
	next := map[Origin]*originState{}
	origins := make([]Origin, 0, len(affected))
	for o := range affected {
		origins = append(origins, o)
	}
	sortOrigins(origins)
	for _, o := range origins {
		st := &originState{}
		if valid[o] {
			var err error
			if st, err = p.compute(ctx, o); err != nil {
				return err
			}
		}
		next[o] = st
		cause := affected[o]
		var old map[catalog.URN][]catalog.URN
		var oldOrder []catalog.URN
		if prev := p.origins[o]; prev != nil {
			old, oldOrder = prev.reached, prev.order
		}
		for _, u := range st.order {
			path := st.reached[u]
			if was, ok := old[u]; ok && slices.Equal(was, path) && !recreated[u] {
				continue
			}
			byCause[cause] = append(byCause[cause], catalog.Propagate{URN: u, Origin: o.URN, Classification: o.Classification, Path: path})
		}
		for _, u := range oldOrder {
			if _, ok := st.reached[u]; !ok {
				byCause[cause] = append(byCause[cause], catalog.Retract{URN: u, Origin: o.URN, Classification: o.Classification})
			}
		}
	}
	computed := time.Since(computeStart)
	writeStart := time.Now()
	if err := p.write(ctx, byCause); err != nil {
		return err
	}
	writes := 0
	for _, ms := range byCause {
		writes += len(ms)
	}
	for o, st := range next {
		p.set(o, st)
	}
	p.logger.Debug("batch propagated", "entries", len(batch), "origins", len(next), "writes", writes,
		"compute", computed.Round(time.Millisecond), "write", time.Since(writeStart).Round(time.Millisecond))
	p.m.recomputes.WithLabelValues("origin").Add(float64(len(next)))
	p.advance(batch, began)
	return nil
}

// neighbours marks dirty every node with an edge to or from one of urns.
func (p *Propagator) neighbours(ctx context.Context, urns []catalog.URN, dirty map[catalog.URN]string) error {
	for _, dir := range []catalog.Direction{catalog.Downstream, catalog.Upstream} {
		tr, err := p.o.Graph.Traverse(ctx, catalog.TraverseQuery{Starts: urns, Direction: dir, MaxDepth: 1, EdgeKinds: catalog.EdgeKinds(), Edges: true})
		if err != nil {
			return fmt.Errorf("read neighbours of %d new entities: %w", len(urns), err)
		}
		for _, e := range tr.Edges {
			cause := dirty[e.From] // the cause of whichever end is new
			if cause == "" {
				cause = dirty[e.To]
			}
			for _, u := range []catalog.URN{e.From, e.To} {
				if _, ok := dirty[u]; !ok {
					dirty[u] = cause
				}
			}
		}
	}
	return nil
}

// later returns the later of two entry IDs (decimal sequence numbers; ""
// is earliest).
func later(a, b string) string {
	if idLess(a, b) {
		return b
	}
	return a
}

func idLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// write applies the mutations, grouped by cause, in chunks.
func (p *Propagator) write(ctx context.Context, byCause map[string][]catalog.Mutation) error {
	causes := make([]string, 0, len(byCause))
	for c := range byCause {
		causes = append(causes, c)
	}
	sort.Slice(causes, func(i, j int) bool { return idLess(causes[i], causes[j]) })
	for _, cause := range causes {
		muts := byCause[cause]
		for len(muts) > 0 {
			n := min(len(muts), p.o.ChunkSize)
			if _, err := p.o.Writer.Apply(ctx, catalog.Batch{Actor: catalog.ActorPropagation, Cause: cause, Origin: "/watershed/propagation", Mutations: muts[:n]}); err != nil {
				return fmt.Errorf("write %d propagated attachments: %w", n, err)
			}
			for _, m := range muts[:n] {
				if _, ok := m.(catalog.Propagate); ok {
					p.m.writes.WithLabelValues("propagate").Inc()
				} else {
					p.m.writes.WithLabelValues("retract").Inc()
				}
			}
			muts = muts[n:]
		}
	}
	return nil
}

// replace swaps the whole in-memory state.
func (p *Propagator) replace(next map[Origin]*originState) {
	p.origins = map[Origin]*originState{}
	p.touchedBy = map[catalog.URN]map[Origin]struct{}{}
	p.atURN = map[catalog.URN]map[Origin]struct{}{}
	for o, st := range next {
		p.set(o, st)
	}
}

// set records st as o's state, keeping the inverted indexes in step.
func (p *Propagator) set(o Origin, st *originState) {
	if prev := p.origins[o]; prev != nil {
		for _, u := range prev.touched {
			if m := p.touchedBy[u]; m != nil {
				delete(m, o)
				if len(m) == 0 {
					delete(p.touchedBy, u)
				}
			}
		}
	}
	if len(st.reached) == 0 && len(st.touched) == 0 {
		delete(p.origins, o)
		if m := p.atURN[o.URN]; m != nil {
			delete(m, o)
			if len(m) == 0 {
				delete(p.atURN, o.URN)
			}
		}
		return
	}
	p.origins[o] = st
	for _, u := range st.touched {
		m := p.touchedBy[u]
		if m == nil {
			m = map[Origin]struct{}{}
			p.touchedBy[u] = m
		}
		m[o] = struct{}{}
	}
	m := p.atURN[o.URN]
	if m == nil {
		m = map[Origin]struct{}{}
		p.atURN[o.URN] = m
	}
	m[o] = struct{}{}
}

func (p *Propagator) advance(batch []changelog.Entry, began time.Time) {
	if len(batch) == 0 {
		return
	}
	p.position = batch[len(batch)-1].Seq
	p.m.batch.Observe(p.o.Now().Sub(began).Seconds())
	p.m.delay.Observe(p.o.Now().Sub(batch[0].Time).Seconds())
}

// lag is the age of the oldest entry after the handled position.
func (p *Propagator) lag() time.Duration {
	pos := p.Stats().Position
	cs, err := p.o.Graph.Changes(context.Background(), pos, 1)
	if err != nil || len(cs) == 0 {
		return 0
	}
	return max(p.o.Now().Sub(cs[0].Time), 0)
}

// Stats describes the Propagator's in-memory state.
type Stats struct {
	// Origins is the number of origins (direct attachments that propagate).
	Origins int
	// Attachments is the number of propagated attachments they reach.
	Attachments int
	// Position is the last change-log entry handled.
	Position uint64
}

// Stats returns the current figures.
func (p *Propagator) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{Origins: len(p.origins), Position: p.position}
	for _, st := range p.origins {
		s.Attachments += len(st.reached)
	}
	return s
}

// maxPath bounds a written path (the store refuses longer ones): a longer
// one keeps its first and last hops around a cut.
const maxPath = 10000

func clipPath(p []catalog.URN) []catalog.URN {
	if len(p) <= maxPath {
		return p
	}
	out := append([]catalog.URN(nil), p[:maxPath/2]...)
	return append(out, p[len(p)-maxPath/2:]...)
}

func sortKeys(ks []Key) {
	sort.Slice(ks, func(i, j int) bool {
		a, b := ks[i], ks[j]
		if a.URN != b.URN {
			return a.URN < b.URN
		}
		if a.Classification != b.Classification {
			return a.Classification < b.Classification
		}
		return a.Origin < b.Origin
	})
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

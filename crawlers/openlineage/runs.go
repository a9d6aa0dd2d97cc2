package openlineage

import (
	"container/list"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// jobKey names an OpenLineage job.
type jobKey struct{ namespace, name string }

func (k jobKey) urn() catalog.URN { return JobURN(k.namespace, k.name) }
func (k jobKey) scope() string    { return JobScope(k.namespace, k.name) }
func (k jobKey) colScope() string { return ColumnsScope(k.namespace, k.name) }

// datasetInfo is what a run said about one dataset.
type datasetInfo struct {
	ref datasetRef
	// seeded marks a dataset known only from the catalog's edges (the run
	// was evicted from memory or the process restarted): nothing is asserted
	// about it, it only keeps its link.
	seeded bool
	// schema is the latest schema facet of the run, authoritative for the
	// dataset's fields; nil when the run sent none.
	schema         []schemaField
	hasSchema      bool
	description    string
	hasDescription bool
}

func (d *datasetInfo) clone() *datasetInfo {
	c := *d
	c.schema = slices.Clone(d.schema)
	return &c
}

// columnEdge is one field-level mapping input field → output field.
type columnEdge struct {
	key catalog.EdgeKey
	// output and input are the datasets of the two fields, outPath and
	// inPath the fields' paths.
	output, input   catalog.URN
	outPath, inPath string
	transforms      []string
	// Masking: every DIRECT transformation masks and there is at least one.
	directMasked, directClear bool
}

func (e *columnEdge) masking() bool { return e.directMasked && !e.directClear }

func (e *columnEdge) transform() string {
	s := strings.Join(e.transforms, "; ")
	if len(s) > maxTransformLen {
		s = s[:maxTransformLen-3] + "..."
	}
	return s
}

const maxTransformLen = 1024

// runState accumulates what the events of one run said.
type runState struct {
	job     jobKey
	runID   string // "" for a JobEvent's static lineage
	started time.Time
	state   string
	// inputs and outputs are dataset URNs in first-seen order.
	inputs, outputs []catalog.URN
	datasets        map[catalog.URN]*datasetInfo
	columns         map[catalog.EdgeKey]*columnEdge
	// hasColumns: a columnLineage facet arrived in this run.
	hasColumns bool
	// complete: the run reached COMPLETE (or is a JobEvent's static lineage).
	complete bool
	// seeded: the run's datasets were recovered from the catalog.
	seeded bool
}

func newRun(job jobKey, runID string, started time.Time) *runState {
	return &runState{job: job, runID: runID, started: started, datasets: map[catalog.URN]*datasetInfo{}, columns: map[catalog.EdgeKey]*columnEdge{}}
}

func (r *runState) clone() *runState {
	c := *r
	c.inputs = slices.Clone(r.inputs)
	c.outputs = slices.Clone(r.outputs)
	c.datasets = make(map[catalog.URN]*datasetInfo, len(r.datasets))
	for u, d := range r.datasets {
		c.datasets[u] = d.clone()
	}
	c.columns = make(map[catalog.EdgeKey]*columnEdge, len(r.columns))
	for k, e := range r.columns {
		ce := *e
		ce.transforms = slices.Clone(e.transforms)
		c.columns[k] = &ce
	}
	return &c
}

// hasDatasets reports whether the run has reported (or recovered) any
// dataset, i.e. whether its lineage replaces the job's previous lineage.
func (r *runState) hasDatasets() bool { return len(r.inputs)+len(r.outputs) > 0 }

// dataset returns the run's record of ref, adding it as an input or output.
func (r *runState) dataset(ref datasetRef, output bool) *datasetInfo {
	d := r.datasets[ref.URN]
	if d == nil {
		d = &datasetInfo{ref: ref}
		r.datasets[ref.URN] = d
	} else if d.seeded && ref.Namespace != "" {
		d.ref, d.seeded = ref, false
	}
	list := &r.inputs
	if output {
		list = &r.outputs
	}
	if !slices.Contains(*list, ref.URN) {
		*list = append(*list, ref.URN)
	}
	return d
}

// datasetLinks returns the run's dataset-level links of job.
func (r *runState) datasetLinks(job catalog.URN, scope string) []catalog.Link {
	out := make([]catalog.Link, 0, len(r.inputs)+len(r.outputs))
	for _, u := range r.inputs {
		out = append(out, catalog.Link{From: u, Kind: catalog.EdgeConsumes, To: job, Origin: OriginOpenLineage, Confidence: 1, Scope: scope})
	}
	for _, u := range r.outputs {
		out = append(out, catalog.Link{From: job, Kind: catalog.EdgeProduces, To: u, Origin: OriginOpenLineage, Confidence: 1, Scope: scope})
	}
	return out
}

// columnLinks returns the run's field-level DERIVES links, sorted.
func (r *runState) columnLinks(scope string) []catalog.Link {
	keys := make([]catalog.EdgeKey, 0, len(r.columns))
	for k := range r.columns {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].From != keys[j].From {
			return keys[i].From < keys[j].From
		}
		return keys[i].To < keys[j].To
	})
	out := make([]catalog.Link, 0, len(keys))
	for _, k := range keys {
		e := r.columns[k]
		out = append(out, catalog.Link{From: k.From, Kind: catalog.EdgeDerives, To: k.To, Origin: OriginOpenLineage, Confidence: 1, Transform: e.transform(), Masking: e.masking(), Scope: scope})
	}
	return out
}

// runCache is a least-recently-used set of runs, keyed by run id. It is
// guarded by the Service's write lock.
type runCache struct {
	max int
	ll  *list.List // front = most recent; values are *runState
	m   map[string]*list.Element
}

func newRunCache(max int) *runCache {
	return &runCache{max: max, ll: list.New(), m: map[string]*list.Element{}}
}

// get returns the run without changing its recency.
func (c *runCache) get(id string) *runState {
	if e, ok := c.m[id]; ok {
		return e.Value.(*runState)
	}
	return nil
}

// put stores r as the most recent run, evicting the oldest beyond max.
func (c *runCache) put(r *runState) {
	if e, ok := c.m[r.runID]; ok {
		e.Value = r
		c.ll.MoveToFront(e)
		return
	}
	c.m[r.runID] = c.ll.PushFront(r)
	for c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.m, old.Value.(*runState).runID)
	}
}

// removeJob forgets every run of job.
func (c *runCache) removeJob(job jobKey) {
	for e := c.ll.Front(); e != nil; {
		next := e.Next()
		if r := e.Value.(*runState); r.job == job {
			c.ll.Remove(e)
			delete(c.m, r.runID)
		}
		e = next
	}
}

func (c *runCache) len() int { return c.ll.Len() }

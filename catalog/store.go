package catalog

import (
	"context"
	"time"
)

// Reader answers questions about the catalog. Every method sees a
// consistent state: the effects of a write are visible all at once.
type Reader interface {
	// Entity returns the merged view of urn, tombstones included. It is
	// NotFound when the catalog never knew urn.
	Entity(ctx context.Context, urn URN) (Entity, error)
	// Entities returns the entities of urns in the same order; an unknown
	// URN yields a zero Entity (empty URN) at its position.
	Entities(ctx context.Context, urns []URN) ([]Entity, error)
	// Edges returns the edges that touch q.URN in q.Direction.
	Edges(ctx context.Context, q EdgeQuery) ([]Edge, error)
	// Search finds entities by name tokens, kinds and classifications.
	Search(ctx context.Context, q SearchQuery) (SearchResult, error)
	// Traverse walks edges breadth-first from q.Start and q.Starts.
	Traverse(ctx context.Context, q TraverseQuery) (Traversal, error)
	// EdgesByKey returns the edges of keys in the same order, tombstones
	// included; an unknown key yields a zero Edge (empty From) at its
	// position.
	EdgesByKey(ctx context.Context, keys []EdgeKey) ([]Edge, error)
	// Scan pages through the live entities of one kind in URN order: up to
	// limit entities with URN > after, and the URN to pass as after for the
	// next page ("" when there is none). Pages stay stable while the catalog
	// changes: an entity is never returned twice in one pass.
	Scan(ctx context.Context, kind Kind, after URN, limit int) ([]Entity, URN, error)
	// Changes returns up to limit changes with Seq > after, in order.
	Changes(ctx context.Context, after uint64, limit int) ([]Change, error)
	// LastSeq returns the sequence number of the newest change (0 if none).
	LastSeq(ctx context.Context) (uint64, error)
	// Classifications returns every classification definition, by name.
	Classifications(ctx context.Context) ([]ClassificationDef, error)
	// CrawlRuns returns the newest crawl runs first, of one source or of all
	// when source is empty.
	CrawlRuns(ctx context.Context, source string, limit int) ([]CrawlRun, error)
}

// Writer changes the catalog. Each call is atomic and durable when it
// returns nil: its effects and its change events are on stable storage.
type Writer interface {
	// Reconcile diffs s against what s.Source asserted before and commits
	// exactly the differences with their change events. A snapshot equal to
	// the last one writes no change events. When run is set the crawl run
	// is recorded in the same batch, with crawl.completed if it changed
	// something, or crawl.recovered if the source's previous run failed.
	Reconcile(ctx context.Context, s Snapshot, run *CrawlRun) (ReconcileResult, error)
	// Apply validates every mutation of b, then commits all of them with
	// their change events, or none. It returns the changes written, which
	// is empty when the batch changed nothing.
	Apply(ctx context.Context, b Batch) ([]Change, error)
	// RecordCrawlRun stores a crawl run that did not reconcile (a failed
	// crawl) and its crawl.failed event, which it returns.
	RecordCrawlRun(ctx context.Context, run CrawlRun) (Change, error)
}

// ChangeWaiter lets readers of the change log block instead of polling.
type ChangeWaiter interface {
	// WaitChanges returns once LastSeq > after, or with ctx's error.
	WaitChanges(ctx context.Context, after uint64) error
}

// Store is a complete catalog backend.
type Store interface {
	Reader
	Writer
	ChangeWaiter
	// Close releases the store. Pending writes have completed when it returns.
	Close() error
}

// Direction selects which edges of a node a query follows.
type Direction int

// Directions.
const (
	Downstream Direction = iota // follow edges From → To
	Upstream                    // follow edges To → From
	Both                        // both (for Edges; Traverse rejects it)
)

// EdgeQuery selects the edges touching one entity.
type EdgeQuery struct {
	URN       URN
	Direction Direction
	// Kinds restricts the edge kinds; empty means all.
	Kinds []EdgeKind
	// At selects the edges alive at that time; zero means now.
	At time.Time
	// IncludeDeleted returns tombstoned edges too (ignored when At is set).
	IncludeDeleted bool
}

// SearchQuery selects entities.
type SearchQuery struct {
	// Text matches name and URN tokens: every word must match a token
	// exactly or as a prefix. Empty matches everything.
	Text string
	// Kinds restricts to these kinds; empty means all.
	Kinds []Kind
	// Classifications keeps entities carrying every one of these (or a
	// descendant: PII matches PII.Email).
	Classifications []string
	IncludeDeleted  bool
	Offset          int
	Limit           int
}

// SearchResult is one page of a search.
type SearchResult struct {
	Entities []Entity
	// Total is the number of matches across all pages.
	Total int
}

// TraverseQuery describes a breadth-first walk.
//
// Pass-through nodes: a node that is the Via of an alive pair edge (a sink
// connector mapping topic → table) is reached like any other node, but a walk
// that did not start at it does not continue through its flow edges; the
// data crosses it along the pair edges. So a walk from one topic of a
// four-topic sink reaches the connector and that topic's own table, never
// another topic's table. A walk started at the connector follows all of its
// edges.
type TraverseQuery struct {
	// Start and Starts are where the walk begins (all of them at depth 0);
	// at least one is required. Unknown starts are NotFound.
	Start     URN
	Starts    []URN
	Direction Direction
	// MaxDepth bounds the hops from Start; zero or less means unbounded.
	MaxDepth int
	// EdgeKinds restricts which edges are followed; empty means the flow kinds.
	EdgeKinds []EdgeKind
	// At walks the graph as it was at that time; zero means now.
	At time.Time
	// Limit bounds the number of nodes returned (Start excluded); zero means
	// no limit. When it cuts the walk short, Traversal.Truncated is set.
	Limit int
	// Edges asks for every traversed edge between reached nodes.
	Edges bool
	// Carrying, when set, follows only edges that let this classification
	// through: not on the edge's block list (nor an ancestor of it), and not
	// a masking edge unless the classification's definition PassesMasking.
	Carrying string
	// NodeKinds, when set, enters only nodes of these kinds: a field-level
	// walk stays on FIELD and COLUMN nodes.
	NodeKinds []Kind
	// StopKinds, when set, reaches nodes of these kinds but does not walk on
	// from them (a start is always walked from): a walk from a topic with
	// StopKinds [TOPIC, TABLE, DATASET] finds the next datasets downstream,
	// through the connectors and jobs between, and goes no further.
	StopKinds []Kind
	// LiveOnly walks the current graph without its tombstones: a deleted
	// entity is neither reached nor walked through, and a deleted start
	// yields nothing. URNs only referenced by edges count as live. It is
	// meant for walks of the present; with At it still looks at the
	// current state of each entity.
	LiveOnly bool
	// NoVia says the caller reads no Reached.Via (it wants no paths): a
	// store may then leave Via zero, which spares it an edge key per
	// reached node on large closures. Everything else is unchanged.
	NoVia bool
}

// StartURNs returns Start and Starts as one list without duplicates.
func (q TraverseQuery) StartURNs() []URN {
	out := make([]URN, 0, len(q.Starts)+1)
	seen := make(map[URN]struct{}, len(q.Starts)+1)
	for _, u := range append([]URN{q.Start}, q.Starts...) {
		if _, dup := seen[u]; dup || u == "" {
			continue
		}
		seen[u] = struct{}{}
		out = append(out, u)
	}
	return out
}

// Traversal is the result of a walk.
type Traversal struct {
	// Nodes are the reached entities in breadth-first order, Start excluded.
	Nodes []Reached
	// Edges are the followed edges, when asked for.
	Edges []EdgeKey
	// Truncated says the walk stopped at Limit with nodes left to visit.
	Truncated bool
	// Seq is the change-log position the walk saw: every change up to Seq
	// is reflected, none after it.
	Seq uint64
}

// Reached is a node found by a walk.
type Reached struct {
	URN   URN
	Kind  Kind
	Depth int
	// Via is the edge by which the node was first reached; following Via
	// back to a start gives one shortest explaining path.
	Via EdgeKey
}

// PathTo returns the shortest path from the walk's start to urn (start
// first), following Via links, or nil when urn was not reached. For many
// nodes use Paths, which shares the work.
func (t Traversal) PathTo(start, urn URN, dir Direction) []URN {
	return t.Paths(start, dir)[urn]
}

// Paths returns, for every reached node, one shortest path from a start to
// it (that start first), in O(nodes × depth). A path ends at start or, for a
// walk with several starts, at whichever start reached the node first.
func (t Traversal) Paths(start URN, dir Direction) map[URN][]URN {
	via := make(map[URN]EdgeKey, len(t.Nodes))
	for _, n := range t.Nodes {
		via[n.URN] = n.Via
	}
	out := make(map[URN][]URN, len(t.Nodes))
	for _, n := range t.Nodes {
		path := []URN{n.URN}
		for cur := n.URN; cur != start; {
			e, ok := via[cur]
			if !ok {
				break // cur is a start
			}
			if len(path) > n.Depth {
				path = nil // a Via chain longer than the depth: a store bug
				break
			}
			if dir == Upstream {
				cur = e.To
			} else {
				cur = e.From
			}
			path = append(path, cur)
		}
		for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
			path[i], path[j] = path[j], path[i]
		}
		out[n.URN] = path
	}
	return out
}

// CrawlStatus is the outcome of a crawl run.
type CrawlStatus string

// Crawl statuses.
const (
	CrawlSucceeded CrawlStatus = "SUCCEEDED"
	CrawlPartial   CrawlStatus = "PARTIAL" // reconciled, but some scopes were incomplete
	CrawlFailed    CrawlStatus = "FAILED"
)

// CrawlRun records one crawl of one source.
type CrawlRun struct {
	Source    string
	Kind      string // crawler kind: kafka, schemaregistry, connect
	Trigger   string // schedule, manual, startup, cli
	Status    CrawlStatus
	StartedAt time.Time
	Duration  time.Duration
	// Counts are the numbers of assets per kind and of links in the snapshot.
	Counts map[string]int
	Result ReconcileResult
	Errors []string
}

// URN names the run: urn:crawl:<source>/<start time, RFC 3339 UTC, ns>.
func (r CrawlRun) URN() URN {
	return MakeURN(KindCrawlRun, r.Source+"/"+r.StartedAt.UTC().Format("2006-01-02T15:04:05.000000000Z"))
}

// Package lineage answers lineage questions over the catalog — what lies
// upstream or downstream of an asset, what breaks if it changes, what a
// proposed schema would do to its consumers — and keeps classifications
// following the data (propagation, a change-log handler).
//
// It reads the catalog through Graph, a small subset of catalog.Reader that
// every store satisfies, and never imports a crawler: it meets them in the
// catalog. Schemas are parsed and compared with the schemaparse library.
//
// # Walks
//
// Traverse walks upstream or downstream from one or more starts, breadth
// first, at any depth, cycle-safe: each node is reported once, at its
// smallest depth, with (on request) one shortest explaining path. Edges
// point downstream; a walk follows the flow kinds (PRODUCES, CONSUMES,
// CAPTURES, SINKS, DERIVES) unless told otherwise. A walk is dataset level
// (it never enters FIELD or COLUMN nodes) or field level (it enters only
// those); by default the start's kind decides. Kinds filters what is
// reported without changing the walk. A Limit that cuts the answer sets
// Truncated. At walks the graph as it was at a past time (tombstoned edges
// keep their alive intervals), so "what consumed this topic last Tuesday"
// has an answer; the assets themselves are described as they are now.
//
// A connector or job that is the Via of pair edges (one per input → output
// pair it maps) is pass-through: a walk that reaches it does not continue
// through its own flow edges but along the pair edges, so a walk from one
// topic of a four-topic sink reaches that topic's table and no other. Every
// answer here relies on that, and none adds a connector's other outputs
// back.
//
// Every answer is read on one consistent snapshot: the walks it makes all
// see the catalog after the same change, reported as Seq, and it is read
// again should the catalog change before its entities and edges are read.
//
// # Impact
//
// Impact is everything downstream of an asset, grouped by kind (consumer
// groups, connectors, jobs, datasets, topics, fields), each with its hop
// count, one explaining path, its owners (on the asset), and for consumer
// groups the state and lag of the last crawl. For a FIELD or COLUMN it is
// only what derives from that field: the field-level walk, the datasets
// holding the fields it reaches and the processes that carry those field
// edges (exact), then the readers of those datasets that have no field
// lineage — they may read the field, nothing says — and what lies beyond
// them (not exact). A reader that maps other fields of the dataset and
// none deriving from the root is not impacted.
//
// # Proposed schemas
//
// SchemaChangeImpact diffs a candidate schema against a subject's latest
// version (renames through Avro aliases included), applies the subject's
// compatibility level (BACKWARD, FORWARD, FULL, their _TRANSITIVE forms,
// NONE), and gives every consumer group, connector, job and sink downstream
// of the subject's topics a verdict: BREAKING when it reads (through field
// lineage) a field that is removed, renamed, changes type or may now be
// null, or when it reads the topic with no field lineage and a reader on
// the latest schema cannot read the candidate's data; UNKNOWN when it may
// read a changed field but no field lineage says; SAFE otherwise. The
// command `watershed schema-check` asks the same question of a server from
// a CI job.
//
// # Propagation
//
// The propagated state is a pure function of the direct attachments and the
// lineage graph (DESIGN.md §6); Closure computes it for one origin and
// Desired for the whole catalog. The Propagator keeps the catalog's
// propagated attachments equal to it: it recomputes everything from the
// catalog as it is on every start, then follows the change log under the
// durable subscription "propagation/v1", recomputing exactly the origins a
// batch of entries can affect, and writes the difference as
// catalog.Propagate and catalog.Retract mutations (commutative, keyed by
// asset, classification and origin) with the causing entry as Cause. A
// periodic full recompute heals whatever a skipped entry left behind. The
// Classifier applies auto-classification rules the same way.
//
// The rules, as promises:
//
//  1. A direct attachment of C with propagation on (manual, rule, schema tag
//     or crawler) on a field or column reaches every field and column
//     downstream along field-level edges; on any other asset it reaches
//     every asset downstream along dataset-level edges (datasets,
//     connectors, jobs, consumer groups). A dataset-level classification
//     never lands on fields.
//  2. A dataset (topic, table, dataset) containing a field that carries C
//     carries C as a roll-up ("contains PII"); the connectors, jobs and
//     consumer groups reading it carry C as readers. Neither flows on by
//     itself. From each such dataset, every next dataset reached without
//     field mapping gets C coarsely and passes it on at dataset level: PII
//     never escapes through an unmapped job. A hop has field mapping when a
//     field of the next dataset derives from a field of what feeds the hop
//     (see Closure).
//  3. An edge blocks C when C or an ancestor of it is on its block list, or
//     when it masks the data and C's definition does not pass masking. A
//     tombstoned asset carries nothing and passes nothing.
//  4. C stays on X exactly while an unblocked path from some origin reaches
//     X: removing an attachment, an edge or a block recomputes precisely.
//  5. New lineage receives existing classifications; removed lineage,
//     tombstoned assets and edges retract them.
//  6. Every propagated attachment has its origin and one path (origin first),
//     from which its Mode follows (ModeOf). Hierarchy is the catalog's:
//     PII.Email is a PII for search, policies and block lists.
//
// Classification events (classification.propagated and .retracted) are the
// store's, one per changed attachment, with cause = the ID of the entry that
// made the Propagator recompute. The Propagator ignores entries written by
// catalog.ActorPropagation, so it never loops on its own writes.
package lineage

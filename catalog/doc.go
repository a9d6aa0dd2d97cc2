// Package catalog owns Watershed's model and the interfaces every store
// implements. It imports only the standard library.
//
// # Model
//
// An Entity is anything the catalog knows about: a Kafka cluster, a topic, a
// schema field, a consumer group, a database column, a job. It is named by a
// URN that is derived from the identity of the thing in its source system
// (never from a random ID), so the same topic crawled twice, or described by
// an OpenLineage event, lands on the same entity. See URN for the scheme.
//
// An Edge connects two entities. Edges point downstream: data flows from
// From to To. An edge is identified by (From, Kind, To); each source that
// asserts it adds a Claim with its own provenance (source, confidence, first
// and last seen, transform). The same logical edge seen by two sources is
// one edge with two claims, and it stays alive while at least one claim does.
//
// Entities and edges are never forgotten: when the last source stops
// asserting them they are tombstoned with a timestamp, so history queries
// ("what consumed topic T on date D") keep working.
//
// # Who owns what
//
// Every source (a configured crawler instance such as "prod", or "manual"
// for what people register through the API) owns a facet of each entity it
// asserts. Crawlers hand the store a complete Snapshot of their source; the
// store diffs it against the facets that source owns and writes exactly the
// changes. Curated data — descriptions, owners, manual classifications — is
// kept apart from facets, so a re-crawl never overwrites a steward's work, and
// a topic that is deleted and recreated gets its tags back.
//
// # Changes
//
// Every write commits together with the Change events that describe it
// (a transactional outbox). A committed change never lacks its event and an
// event never describes an uncommitted change. Changes carry a strictly
// increasing sequence number; the changelog package turns them into a
// resumable, at-least-once stream.
package catalog

// Package crawlers defines how sources are inventoried: the Crawler
// contract, the self-describing crawler kinds, the Registry that maps a
// configured source's kind to its constructor, and the Manager that
// schedules crawls and records crawl runs.
//
// A crawler emits a complete snapshot of its source every time. It never
// sends deltas: the store diffs the snapshot against what the source asserted
// before, so a deletion is simply an absence. A crawler that could not see
// part of its source (a partition without a leader, a consumer group it may
// not describe, a connector whose status returned 500) lists that part's
// scope in Snapshot.Incomplete; the store then keeps what it had there.
package crawlers

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/watershed-data/watershed/catalog"
)

// Crawler inventories one configured source.
type Crawler interface {
	// Crawl returns a complete snapshot of the source. It returns an error
	// only when nothing trustworthy could be seen (the cluster is
	// unreachable); partial failures go in Snapshot.Incomplete. The
	// snapshot's Source is filled in by the caller.
	Crawl(ctx context.Context) (catalog.Snapshot, error)
}

// CrawlerFunc adapts a function to Crawler.
type CrawlerFunc func(ctx context.Context) (catalog.Snapshot, error)

// Crawl calls f.
func (f CrawlerFunc) Crawl(ctx context.Context) (catalog.Snapshot, error) { return f(ctx) }

// Kind describes one kind of source and builds its crawlers.
type Kind struct {
	// Name is the value of `kind:` in the sources list: "kafka".
	Name        string
	Description string
	// Emits lists the entity kinds its snapshots contain.
	Emits []catalog.Kind
	// NewConfig returns a pointer to a zero config that the source's YAML
	// mapping (minus name, kind and schedule) is decoded into as JSON, with
	// unknown keys rejected.
	NewConfig func() Config
}

// Config is one kind's decoded source configuration.
type Config interface {
	// Validate reports the first problem with the configuration in terms a
	// user can act on ("bootstrap: at least one address is required").
	Validate() error
	// New builds the crawler. It does no I/O.
	New(env Env) (Crawler, error)
}

// Env is what a crawler gets from the process that runs it.
type Env struct {
	// Source is the configured source name ("prod").
	Source string
	// Logger is the process logger; crawlers add their component, kind and
	// source attributes.
	Logger *slog.Logger
	// Catalog lets a crawler read what other crawlers found (e.g. the
	// fields of a topic) to derive finer lineage.
	Catalog catalog.Reader
	// Sources resolves another configured source by name (e.g. the Kafka
	// cluster a schema registry serves). It returns false if unknown.
	Sources func(name string) (SourceSpec, bool)
}

// SourceSpec is a configured source.
type SourceSpec struct {
	Name     string
	Kind     string
	Schedule string
	Config   Config
}

// DecodeConfig decodes raw (a JSON object) into a new config of kind k,
// rejecting unknown keys, and validates it.
func (k Kind) DecodeConfig(raw json.RawMessage) (Config, error) {
	cfg := k.NewConfig()
	if len(raw) > 0 {
		dec := json.NewDecoder(bytesReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(cfg); err != nil {
			return nil, catalog.Errorf(catalog.Invalid, "decode %s source config: %w", k.Name, err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, catalog.Errorf(catalog.Invalid, "%s source config: %w", k.Name, err)
	}
	return cfg, nil
}

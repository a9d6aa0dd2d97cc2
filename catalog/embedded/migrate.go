package embedded

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble"
)

// migrationBatch is how many keys a migration stages per batch.
const migrationBatch = 50_000

// migration builds, while Open decodes every record, the derived keyspaces
// a data directory written in an older format lacks, then raises its
// format. It writes in several batches and raises the format last, so a
// crash midway leaves the old format, and the next Open builds again (the
// keys it writes are a function of the records: writing them twice is
// harmless). A nil *migration does nothing.
type migration struct {
	s       *Store
	from    uint64
	b       *pebble.Batch
	n       int // keys staged in b
	written int
	err     error
}

func (s *Store) newMigration(from uint64) *migration {
	return &migration{s: s, from: from, b: s.db.NewBatch()}
}

func (m *migration) entity(r *entityRecord) {
	if m == nil || m.err != nil {
		return
	}
	if m.from < 2 {
		m.stage(stageScopeDiff(m.b, nil, entityScopeKeys(r)), len(r.Facets))
		m.stage(m.b.Set(entityOrderKey(r), nil, nil), 1)
	}
	if m.from < 3 && len(r.Propagated) > 0 {
		m.stage(moveInlinePropagated(m.b, r), 1+len(r.Propagated))
	}
}

func (m *migration) edge(r *edgeRecord) {
	if m == nil || m.err != nil {
		return
	}
	if m.from < 2 {
		m.stage(stageScopeDiff(m.b, nil, edgeScopeKeys(r)), len(r.Claims))
	}
}

func (m *migration) stage(err error, keys int) {
	if err != nil {
		m.err = err
		return
	}
	m.n += keys
	if m.n >= migrationBatch {
		m.flush(pebble.NoSync)
	}
}

func (m *migration) flush(opts *pebble.WriteOptions) {
	if err := m.b.Commit(opts); err != nil {
		m.err = fmt.Errorf("commit migration batch: %w", err)
	}
	m.written += m.n
	m.b.Close()
	m.b, m.n = m.s.db.NewBatch(), 0
}

// finish writes what is staged and the new format, synced.
func (m *migration) finish() error {
	if m == nil {
		return nil
	}
	defer m.b.Close()
	if m.err != nil {
		return fmt.Errorf("migrate store format %d to %d: %w", m.from, formatVersion, m.err)
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], formatVersion)
	if err := m.b.Set(metaKey("format"), v[:], nil); err != nil {
		return fmt.Errorf("stage store format: %w", err)
	}
	m.flush(pebble.Sync)
	if m.err != nil {
		return fmt.Errorf("migrate store format %d to %d: %w", m.from, formatVersion, m.err)
	}
	if m.from > 0 || m.written > 0 {
		m.s.log.Info("store format migrated", "from", m.from, "to", formatVersion, "keys", m.written)
	}
	return nil
}

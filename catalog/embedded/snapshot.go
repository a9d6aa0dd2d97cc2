package embedded

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/watershed-data/watershed/catalog"
)

// The index snapshot makes a restart cheap. Close writes the in-memory
// index to <dir>/index.snap in a compact binary form, tagged with a random
// generation that it also stores under m"snapshot", in the batch that
// clears the journal. Every commit stages, next to its records, one journal
// key (j + the record's key) per entity, edge and live record it writes.
// Open then loads the snapshot whose generation m"snapshot" names and
// re-reads only the journaled records, instead of decoding every record:
//
//   - a clean restart reads the snapshot and an empty journal;
//   - after a crash the journal holds every record written since the last
//     clean close, so nothing is lost, and replaying it costs what was
//     written since;
//   - a missing, unreadable or stale snapshot (another generation, a
//     crash between writing the file and committing its generation) makes
//     Open rebuild from the records, as a store without a snapshot does.
//
// The snapshot holds derived state only; deleting it is always safe.
const (
	snapshotFile    = "index.snap"
	snapshotMagic   = "WSIX"
	snapshotVersion = 1
	prefixJournal   = 'j'
)

func journalKey(key []byte) []byte { return append([]byte{prefixJournal}, key...) }

// stageJournal stages the journal keys of the records a txn writes.
func (t *txn) stageJournal(b batchWriter, ents []*entityRecord, edges []*edgeRecord) error {
	for _, r := range ents {
		if err := b.Set(journalKey(entityKey(r.URN)), nil, nil); err != nil {
			return fmt.Errorf("stage journal: %w", err)
		}
	}
	for _, r := range edges {
		if err := b.Set(journalKey(edgeKey(r.key())), nil, nil); err != nil {
			return fmt.Errorf("stage journal: %w", err)
		}
	}
	for k := range t.live {
		if err := b.Set(journalKey([]byte(k)), nil, nil); err != nil {
			return fmt.Errorf("stage journal: %w", err)
		}
	}
	t.s.journal += len(ents) + len(edges) + len(t.live)
	return nil
}

// Checkpoint writes a new index snapshot now, so that an Open after a
// crash replays nothing written before it. Writers wait meanwhile.
func (s *Store) Checkpoint(ctx context.Context) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	return s.writeSnapshot(s.dir, s.idx)
}

// maybeCheckpoint writes a new index snapshot once the journal holds more
// than Options.CheckpointAfter records. The caller holds wmu. A failure
// is logged: the journal and the older snapshot still describe the store.
func (s *Store) maybeCheckpoint() {
	limit := s.checkpointAfter
	if limit < 0 {
		return
	}
	if limit == 0 {
		s.mu.RLock()
		limit = max(100_000, (len(s.idx.nodes)+len(s.idx.edges))/8)
		s.mu.RUnlock()
	}
	if s.journal <= limit {
		return
	}
	start := time.Now()
	if err := s.writeSnapshot(s.dir, s.idx); err != nil {
		s.log.Warn("write index snapshot", "err", err)
		return
	}
	s.log.Info("index snapshot written", "took", time.Since(start).Round(time.Millisecond))
}

// stageDerived stages everything a txn's batch carries besides the records
// and events: the scope index, the search order and the journal.
func (t *txn) stageDerived(b batchWriter, ents []*entityRecord, edges []*edgeRecord) error {
	if err := t.stageScopeIndex(b, ents, edges); err != nil {
		return err
	}
	if err := t.stageOrder(b, ents); err != nil {
		return err
	}
	return t.stageJournal(b, ents, edges)
}

// writeSnapshot writes x to dir as the snapshot of a new generation, then
// commits that generation and clears the journal in one synced batch. The
// caller holds wmu, so only a search sorting the vocabulary could change
// x: it is sorted first, and readers keep reading while x is encoded.
func (s *Store) writeSnapshot(dir string, x *index) error {
	s.mu.Lock()
	x.sortedVocab()
	s.mu.Unlock()
	s.mu.RLock()
	defer s.mu.RUnlock()
	gen := rand.Uint64() | 1 // never zero
	tmp := filepath.Join(dir, snapshotFile+".tmp")
	durable := s.sync == pebble.Sync
	if err := writeSnapshotFile(tmp, gen, x, durable); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	if err := os.Rename(tmp, filepath.Join(dir, snapshotFile)); err != nil {
		return fmt.Errorf("install index snapshot: %w", err)
	}
	if durable {
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], gen)
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange([]byte{prefixJournal}, []byte{prefixJournal + 1}, nil); err != nil {
		return fmt.Errorf("stage journal reset: %w", err)
	}
	if err := b.Set(metaKey("snapshot"), v[:], nil); err != nil {
		return fmt.Errorf("stage snapshot generation: %w", err)
	}
	if err := b.Commit(s.sync); err != nil {
		return fmt.Errorf("commit snapshot generation: %w", err)
	}
	s.journal = 0
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open data directory: %w", err)
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// snapEncoder appends the snapshot encoding to a byte slice.
type snapEncoder struct{ b []byte }

func (e *snapEncoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *snapEncoder) u64(v uint64)     { e.b = binary.BigEndian.AppendUint64(e.b, v) }
func (e *snapEncoder) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *snapEncoder) time(t time.Time) {
	if t.IsZero() {
		e.uvarint(0)
		return
	}
	e.uvarint(1)
	e.b = binary.AppendVarint(e.b, t.UnixNano())
}

// hashes encodes an id → hash map sorted by id.
func (e *snapEncoder) hashes(m map[uint32]uint64) {
	ids := make([]uint32, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	e.uvarint(uint64(len(ids)))
	for _, id := range ids {
		e.uvarint(uint64(id))
		e.u64(m[id])
	}
}

// Node flags.
const (
	snapRecord  = 1
	snapDeleted = 2
	snapAlive   = 1
	snapMasking = 2
)

// writeSnapshotFile writes: magic, version, generation, then four sections
// (string tables, nodes, edges, sources), each as a length and its bytes so
// that they decode in parallel, then a CRC-32C of everything before it.
func writeSnapshotFile(path string, gen uint64, x *index, durable bool) error {
	vocab := x.sortedVocab()
	tokIdx := make(map[string]uint64, len(vocab))
	for i, t := range vocab {
		tokIdx[t] = uint64(i)
	}
	classes := make([]string, 0, len(x.classes))
	for c := range x.classes {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	clsIdx := make(map[string]uint64, len(classes))
	for i, c := range classes {
		clsIdx[c] = uint64(i)
	}
	kinds := append([]catalog.EdgeKind(nil), catalog.EdgeKinds()...)
	kindIdx := map[catalog.EdgeKind]uint64{}
	for i, k := range kinds {
		kindIdx[k] = uint64(i)
	}
	for _, e := range x.edges {
		if _, ok := kindIdx[e.kind]; !ok {
			kindIdx[e.kind] = uint64(len(kinds))
			kinds = append(kinds, e.kind)
		}
	}

	var tables, nodes, edges, sources snapEncoder
	var wg sync.WaitGroup
	var nodeErr error
	wg.Add(3)
	go func() {
		defer wg.Done()
		tables.uvarint(uint64(len(vocab)))
		for _, t := range vocab {
			tables.str(t)
		}
		tables.uvarint(uint64(len(classes)))
		for _, c := range classes {
			tables.str(c)
		}
		tables.uvarint(uint64(len(kinds)))
		for _, k := range kinds {
			tables.str(string(k))
		}
	}()
	go func() {
		defer wg.Done()
		nodes.b = make([]byte, 0, 64*len(x.nodes))
		nodes.uvarint(uint64(len(x.nodes)))
		for i := range x.nodes {
			n := &x.nodes[i]
			nodes.str(string(n.urn))
			nodes.str(n.name)
			var f uint64
			if n.record {
				f |= snapRecord
			}
			if n.deleted {
				f |= snapDeleted
			}
			nodes.uvarint(f)
			nodes.uvarint(uint64(len(n.tokens)))
			for _, t := range n.tokens {
				ti, ok := tokIdx[t]
				if !ok {
					nodeErr = fmt.Errorf("node %s has token %q missing from the vocabulary", n.urn, t)
					return
				}
				nodes.uvarint(ti)
			}
			nodes.uvarint(uint64(len(n.classes)))
			for _, c := range n.classes {
				nodes.uvarint(clsIdx[c])
			}
		}
	}()
	go func() {
		defer wg.Done()
		edges.b = make([]byte, 0, 32*len(x.edges))
		edges.uvarint(uint64(len(x.edges)))
		for i := range x.edges {
			e := &x.edges[i]
			edges.uvarint(uint64(e.from))
			edges.uvarint(uint64(e.to))
			edges.uvarint(kindIdx[e.kind])
			var f uint64
			if e.alive {
				f |= snapAlive
			}
			if e.masking {
				f |= snapMasking
			}
			edges.uvarint(f)
			edges.uvarint(uint64(len(e.block)))
			for _, b := range e.block {
				edges.str(b)
			}
			edges.uvarint(uint64(len(e.via)))
			for _, v := range e.via {
				edges.uvarint(uint64(v))
			}
			edges.uvarint(uint64(len(e.intervals)))
			for _, iv := range e.intervals {
				edges.time(iv.From)
				edges.time(iv.To)
			}
		}
	}()
	names := make([]string, 0, len(x.sources))
	for name := range x.sources {
		names = append(names, name)
	}
	sort.Strings(names)
	sources.uvarint(uint64(len(names)))
	for _, name := range names {
		si := x.sources[name]
		sources.str(name)
		sources.time(si.lastReconciled)
		sources.hashes(si.facets)
		sources.hashes(si.live)
		sources.hashes(si.claims)
	}
	wg.Wait()
	if nodeErr != nil {
		return fmt.Errorf("encode index snapshot: %w", nodeErr)
	}

	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create index snapshot: %w", err)
	}
	crc := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	w := bufio.NewWriterSize(f, 1<<20)
	var head snapEncoder
	head.b = append(head.b, snapshotMagic...)
	head.uvarint(snapshotVersion)
	head.u64(gen)
	parts := [][]byte{head.b}
	for _, sec := range []*snapEncoder{&tables, &nodes, &edges, &sources} {
		parts = append(parts, binary.AppendUvarint(nil, uint64(len(sec.b))), sec.b)
	}
	for _, p := range parts {
		crc.Write(p)
		if _, err := w.Write(p); err != nil {
			return errors.Join(fmt.Errorf("write index snapshot: %w", err), f.Close())
		}
	}
	if _, err := w.Write(binary.BigEndian.AppendUint32(nil, crc.Sum32())); err != nil {
		return errors.Join(fmt.Errorf("write index snapshot: %w", err), f.Close())
	}
	if err := w.Flush(); err != nil {
		return errors.Join(fmt.Errorf("write index snapshot: %w", err), f.Close())
	}
	if durable {
		if err := f.Sync(); err != nil {
			return errors.Join(fmt.Errorf("sync index snapshot: %w", err), f.Close())
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close index snapshot: %w", err)
	}
	return nil
}

// snapDecoder reads the snapshot encoding; the first overrun sets err and
// every later read returns zero.
type snapDecoder struct {
	b   []byte
	err error
}

var errSnapshotShort = errors.New("index snapshot is truncated")

func (d *snapDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errSnapshotShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length and checks that at least min bytes per item remain,
// so a corrupt length cannot make the decoder allocate without bound.
func (d *snapDecoder) count(min int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/min+1) {
		d.err = errSnapshotShort
		return 0
	}
	return int(n)
}

func (d *snapDecoder) u64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.err = errSnapshotShort
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *snapDecoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || uint64(len(d.b)) < n {
		d.err = errSnapshotShort
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *snapDecoder) str() string { return string(d.bytes()) }

func (d *snapDecoder) time() time.Time {
	if d.uvarint() == 0 {
		return time.Time{}
	}
	if d.err != nil {
		return time.Time{}
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errSnapshotShort
		return time.Time{}
	}
	d.b = d.b[n:]
	return time.Unix(0, v).UTC()
}

// index reads an index below n.
func (d *snapDecoder) index(n int) uint32 {
	v := d.uvarint()
	if d.err == nil && v >= uint64(n) {
		d.err = fmt.Errorf("index snapshot: reference %d out of range %d", v, n)
		return 0
	}
	return uint32(v)
}

func (d *snapDecoder) hashes(n int) map[uint32]uint64 {
	c := d.count(9)
	m := make(map[uint32]uint64, c)
	for i := 0; i < c && d.err == nil; i++ {
		id := d.index(n)
		m[id] = d.u64()
	}
	return m
}

// slab hands out small slices carved from large allocations, so decoding
// millions of short lists costs few allocations. Each slice is capped at
// its length: appending to it copies instead of overwriting a neighbour.
type slab[T any] struct{ buf []T }

func (s *slab[T]) take(n int) []T {
	if len(s.buf) < n {
		s.buf = make([]T, max(n, 8192))
	}
	out := s.buf[:n:n]
	s.buf = s.buf[n:]
	return out
}

// readSnapshot loads the snapshot of generation gen from dir.
func readSnapshot(dir string, gen uint64) (*index, error) {
	b, err := os.ReadFile(filepath.Join(dir, snapshotFile))
	if err != nil {
		return nil, fmt.Errorf("read index snapshot: %w", err)
	}
	if len(b) < len(snapshotMagic)+4 || string(b[:len(snapshotMagic)]) != snapshotMagic {
		return nil, errors.New("index snapshot: bad magic")
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)) != binary.BigEndian.Uint32(b[len(b)-4:]) {
		return nil, errors.New("index snapshot: checksum mismatch")
	}
	d := &snapDecoder{b: body[len(snapshotMagic):]}
	if v := d.uvarint(); d.err == nil && v != snapshotVersion {
		return nil, fmt.Errorf("index snapshot: version %d, want %d", v, snapshotVersion)
	}
	if g := d.u64(); d.err == nil && g != gen {
		return nil, fmt.Errorf("index snapshot: generation %x, store names %x", g, gen)
	}
	var secs [4]snapDecoder
	for i := range secs {
		secs[i].b = d.bytes()
	}
	if d.err != nil {
		return nil, fmt.Errorf("index snapshot: %w", d.err)
	}
	return decodeSnapshot(&secs[0], &secs[1], &secs[2], &secs[3])
}

func decodeSnapshot(tables, nodes, edges, sources *snapDecoder) (*index, error) {
	vocab := make([]string, tables.count(1))
	for i := range vocab {
		vocab[i] = tables.str()
	}
	classNames := make([]string, tables.count(1))
	for i := range classNames {
		classNames[i] = tables.str()
	}
	kinds := make([]catalog.EdgeKind, tables.count(1))
	kbits := make([]uint32, len(kinds))
	for i := range kinds {
		kinds[i] = catalog.EdgeKind(tables.str())
		kbits[i] = edgeKindBit(kinds[i])
	}
	if tables.err != nil {
		return nil, fmt.Errorf("index snapshot tables: %w", tables.err)
	}
	x := &index{vocab: vocab, vocabSorted: true}
	nn := nodes.count(3)
	ne := edges.count(5)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { // nodes and URN → id
		defer wg.Done()
		x.nodes = make([]node, nn)
		x.ids = make(map[catalog.URN]uint32, nn)
		var strs slab[string]
		for i := 0; i < nn && nodes.err == nil; i++ {
			n := &x.nodes[i]
			n.urn = catalog.URN(nodes.str())
			n.kind = n.urn.Kind()
			n.name = nodes.str()
			f := nodes.uvarint()
			n.record, n.deleted = f&snapRecord != 0, f&snapDeleted != 0
			if c := nodes.count(1); c > 0 {
				n.tokens = strs.take(c)
				for j := range n.tokens {
					n.tokens[j] = vocab[nodes.index(len(vocab))]
				}
			}
			if c := nodes.count(1); c > 0 {
				n.classes = strs.take(c)
				for j := range n.classes {
					n.classes[j] = classNames[nodes.index(len(classNames))]
				}
			}
			x.ids[n.urn] = uint32(i)
		}
	}()
	go func() { // edges and their identities
		defer wg.Done()
		x.edges = make([]edge, ne)
		x.edgeIDs = make(map[edgeIdent]uint32, ne)
		var ids slab[uint32]
		var ivs slab[interval]
		for i := 0; i < ne && edges.err == nil; i++ {
			e := &x.edges[i]
			e.from, e.to = edges.index(nn), edges.index(nn)
			k := edges.index(len(kinds))
			e.kind, e.kbit = kinds[k], kbits[k]
			f := edges.uvarint()
			e.alive, e.masking = f&snapAlive != 0, f&snapMasking != 0
			if c := edges.count(1); c > 0 {
				e.block = make([]string, c)
				for j := range e.block {
					e.block[j] = edges.str()
				}
			}
			if c := edges.count(1); c > 0 {
				e.via = ids.take(c)
				for j := range e.via {
					e.via[j] = edges.index(nn)
				}
			}
			if c := edges.count(2); c > 0 {
				e.intervals = ivs.take(c)
				for j := range e.intervals {
					e.intervals[j] = interval{From: edges.time(), To: edges.time()}
				}
			}
			x.edgeIDs[edgeIdent{from: e.from, to: e.to, kind: e.kind}] = uint32(i)
		}
	}()
	go func() { // per-source fingerprints
		defer wg.Done()
		c := sources.count(4)
		x.sources = make(map[string]*sourceIndex, c)
		for i := 0; i < c && sources.err == nil; i++ {
			name := sources.str()
			si := &sourceIndex{lastReconciled: sources.time()}
			si.facets = sources.hashes(nn)
			si.live = sources.hashes(nn)
			si.claims = sources.hashes(ne)
			x.sources[name] = si
		}
	}()
	wg.Wait()
	for _, d := range []*snapDecoder{nodes, edges, sources} {
		if d.err != nil {
			return nil, fmt.Errorf("index snapshot: %w", d.err)
		}
	}
	wg.Add(2)
	go func() { // adjacency and pass-through back references
		defer wg.Done()
		outDeg := make([]uint32, nn)
		inDeg := make([]uint32, nn)
		for i := range x.edges {
			outDeg[x.edges[i].from]++
			inDeg[x.edges[i].to]++
		}
		out := make([]uint32, ne)
		in := make([]uint32, ne)
		var oo, io uint32
		for i := range x.nodes {
			n := &x.nodes[i]
			// Full slice expressions: a later append copies instead of
			// writing into the neighbour's part of the shared array.
			n.out = out[oo : oo : oo+outDeg[i]]
			n.in = in[io : io : io+inDeg[i]]
			oo += outDeg[i]
			io += inDeg[i]
		}
		for i := range x.edges {
			e := &x.edges[i]
			x.nodes[e.from].out = append(x.nodes[e.from].out, uint32(i))
			x.nodes[e.to].in = append(x.nodes[e.to].in, uint32(i))
			for _, v := range e.via {
				x.nodes[v].viaEdges = append(x.nodes[v].viaEdges, uint32(i))
			}
		}
	}()
	go func() { // token and classification postings, counts
		defer wg.Done()
		x.countAll()
		x.tokens = make(map[string][]uint32, len(vocab))
		x.classes = make(map[string]map[uint32]struct{}, len(classNames))
		for i := range x.nodes {
			n := &x.nodes[i]
			for _, t := range n.tokens {
				x.tokens[t] = append(x.tokens[t], uint32(i))
			}
			for _, c := range n.classes {
				set := x.classes[c]
				if set == nil {
					set = map[uint32]struct{}{}
					x.classes[c] = set
				}
				set[uint32(i)] = struct{}{}
			}
		}
	}()
	wg.Wait()
	return x, nil
}

var errNoSnapshot = errors.New("no index snapshot")

// loadIndex returns the index from the snapshot and the journal when the
// store names a usable snapshot (and needs no migration, which reads every
// record anyway), else rebuilt from the records.
func (s *Store) loadIndex(mig *migration) (*index, error) {
	if mig == nil {
		x, err := s.loadSnapshot()
		if err == nil {
			return x, nil
		}
		if !errors.Is(err, errNoSnapshot) {
			s.log.Warn("index snapshot unusable; rebuilding the index from the records", "err", err)
		}
	}
	s.openedFrom = "records"
	return s.rebuildIndex(mig)
}

func (s *Store) loadSnapshot() (*index, error) {
	b, closer, err := s.db.Get(metaKey("snapshot"))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, errNoSnapshot
	}
	if err != nil {
		return nil, fmt.Errorf("read snapshot generation: %w", err)
	}
	if len(b) != 8 {
		closer.Close() // releases a cache reference; it cannot fail
		return nil, fmt.Errorf("read snapshot generation: bad length %d", len(b))
	}
	gen := binary.BigEndian.Uint64(b)
	closer.Close() // releases a cache reference; it cannot fail
	x, err := readSnapshot(s.dir, gen)
	if err != nil {
		return nil, err
	}
	n, err := s.replayJournal(x)
	if err != nil {
		return nil, err
	}
	s.openedFrom = "snapshot"
	s.journaled, s.journal = n, n
	return x, nil
}

// replayJournal applies to x every record the journal names (those written
// since the snapshot), as their commits did, and returns how many.
func (s *Store) replayJournal(x *index) (int, error) {
	var ents, edges, lives [][]byte
	err := s.scan([]byte{prefixJournal}, func(k, _ []byte) error {
		key := append([]byte(nil), k[1:]...)
		if len(key) == 0 {
			return fmt.Errorf("read journal key %q: empty", k)
		}
		switch key[0] {
		case prefixEntity:
			ents = append(ents, key)
		case prefixEdge:
			edges = append(edges, key)
		case prefixLive:
			lives = append(lives, key)
		default:
			return fmt.Errorf("read journal key %q: unknown keyspace", k)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("read journal: %w", err)
	}
	entRecs := make([]*entityRecord, len(ents))
	if err := parallelIndexed(len(ents), func(i int) error {
		var r entityRecord
		found, err := s.get(ents[i], &r)
		if found {
			entRecs[i] = &r
		}
		return err
	}); err != nil {
		return 0, fmt.Errorf("replay journal: %w", err)
	}
	edgeRecs := make([]*edgeRecord, len(edges))
	if err := parallelIndexed(len(edges), func(i int) error {
		var r edgeRecord
		found, err := s.get(edges[i], &r)
		if found {
			edgeRecs[i] = &r
		}
		return err
	}); err != nil {
		return 0, fmt.Errorf("replay journal: %w", err)
	}
	for _, r := range entRecs {
		if r != nil {
			x.putEntity(r)
		}
	}
	for _, r := range edgeRecs {
		if r != nil {
			x.putEdge(r)
		}
	}
	for _, k := range lives {
		rest := k[1:]
		i := lastZero(rest)
		if i < 0 {
			return 0, fmt.Errorf("replay journal: live key %q: no separator", k)
		}
		id, ok := x.ids[catalog.URN(rest[:i])]
		if !ok {
			continue
		}
		src := string(rest[i+1:])
		v, closer, err := s.db.Get(k)
		switch {
		case errors.Is(err, pebble.ErrNotFound):
			if si := x.sources[src]; si != nil {
				delete(si.live, id)
			}
		case err != nil:
			return 0, fmt.Errorf("replay journal: read %q: %w", k, err)
		default:
			x.source(src).live[id] = bytesHash(v)
			closer.Close() // releases a cache reference; it cannot fail
		}
	}
	return len(ents) + len(edges) + len(lives), nil
}

// parallelIndexed calls fn for 0..n-1 on all cores and returns the first
// error.
func parallelIndexed(n int, fn func(i int) error) error {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return parallel(idx, fn)
}

package embedded

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sync"

	"github.com/cockroachdb/pebble"

	"github.com/watershed-data/watershed/catalog"
)

// loadChunk is how many records a decode worker handles at once.
const loadChunk = 1024

type rawKV struct{ k, v []byte }

// scanDecoded iterates every key with prefix p, decodes the values on all
// cores, and calls apply with each decoded item on the calling goroutine
// (in no particular order). It stops at the first error.
func scanDecoded[T any](s *Store, p []byte, decode func(k, v []byte) (T, error), apply func(T)) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return fmt.Errorf("open iterator: %w", err)
	}
	chunks := make(chan []rawKV, 4)
	results := make(chan []T, 4)
	errs := make(chan error, 1)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	done := make(chan struct{})
	var workers sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for chunk := range chunks {
				out := make([]T, 0, len(chunk))
				for _, kv := range chunk {
					item, err := decode(kv.k, kv.v)
					if err != nil {
						report(err)
						continue
					}
					out = append(out, item)
				}
				select {
				case results <- out:
				case <-done:
					return
				}
			}
		}()
	}
	var iterErr error
	var producer sync.WaitGroup
	producer.Add(1)
	go func() {
		defer producer.Done()
		defer close(chunks)
		defer func() { iterErr = it.Close() }()
		chunk := make([]rawKV, 0, loadChunk)
		for it.First(); it.Valid(); it.Next() {
			chunk = append(chunk, rawKV{append([]byte(nil), it.Key()...), append([]byte(nil), it.Value()...)})
			if len(chunk) == loadChunk {
				select {
				case chunks <- chunk:
				case <-done:
					return
				}
				chunk = make([]rawKV, 0, loadChunk)
			}
		}
		if err := it.Error(); err != nil {
			report(fmt.Errorf("iterate: %w", err))
		}
		if len(chunk) > 0 {
			select {
			case chunks <- chunk:
			case <-done:
			}
		}
	}()
	go func() {
		workers.Wait()
		close(results)
	}()
	var firstErr error
	// On every return, wait for the producer: it must close its iterator
	// before the caller may close the database.
	defer producer.Wait()
	for out := range results {
		if firstErr != nil {
			continue
		}
		select {
		case firstErr = <-errs:
			close(done)
			continue
		default:
		}
		for _, item := range out {
			apply(item)
		}
	}
	if firstErr == nil {
		select {
		case firstErr = <-errs:
		default:
		}
	}
	if firstErr != nil {
		return firstErr
	}
	return iterErr
}

// rebuildIndex builds the index from the records: every entity and edge
// record decoded (on all cores), and the live keyspace. mig, when not nil,
// is fed every record.
func (s *Store) rebuildIndex(mig *migration) (*index, error) {
	x := newIndex()
	err := scanDecoded(s, []byte{prefixEntity}, func(k, v []byte) (*entityRecord, error) {
		var r entityRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("decode entity %q: %w", k[1:], err)
		}
		return &r, nil
	}, func(r *entityRecord) {
		x.putEntity(r)
		mig.entity(r)
	})
	if err != nil {
		return nil, err
	}
	err = scanDecoded(s, []byte{prefixEdge}, func(k, v []byte) (*edgeRecord, error) {
		var r edgeRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("decode edge %q: %w", k[1:], err)
		}
		return &r, nil
	}, func(r *edgeRecord) {
		x.putEdge(r)
		mig.edge(r)
	})
	if err != nil {
		return nil, err
	}
	err = s.scan([]byte{prefixLive}, func(k, v []byte) error {
		rest := k[1:]
		i := lastZero(rest)
		if i < 0 {
			return fmt.Errorf("decode live key %q: no separator", k)
		}
		id, ok := x.ids[catalog.URN(rest[:i])]
		if !ok {
			return nil
		}
		x.source(string(rest[i+1:])).live[id] = bytesHash(v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return x, nil
}

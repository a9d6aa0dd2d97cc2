package neo4j

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/catalogtest"
)

// TestKV: keys scan in byte order (forward, reverse, with a limit, across
// pages), namespaces are apart, a batch commits whole or not at all, a
// failed expectation and a stale fence refuse the batch, and range deletes
// remove exactly their range.
func TestKV(t *testing.T) {
	clock := catalogtest.NewClock()
	s := openTest(t, "kv", clock.Now)
	defer s.Close()
	ctx := context.Background()
	kv, err := s.KV("webhooks")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := s.KV("other")
	if _, err := s.KV("a/b"); catalog.KindOf(err) != catalog.Invalid {
		t.Fatalf("namespace with a slash: %v, want Invalid", err)
	}
	if _, found, err := kv.Get(ctx, []byte("x")); err != nil || found {
		t.Fatalf("get of a missing key = %v, %v", found, err)
	}
	// 1,200 keys, two bytes big-endian, written out of order: more than two pages.
	var b catalog.KVBatch
	for i := 1199; i >= 0; i-- {
		b.Writes = append(b.Writes, catalog.KVWrite{Key: []byte{'p', '/', byte(i >> 8), byte(i)}, Value: []byte(fmt.Sprint(i))})
	}
	b.Writes = append(b.Writes, catalog.KVWrite{Key: []byte("q"), Value: []byte{}}, catalog.KVWrite{Key: []byte{0xff, 0xff}, Value: []byte("end")})
	if err := kv.Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := other.Commit(ctx, catalog.KVBatch{Writes: []catalog.KVWrite{{Key: []byte("p/"), Value: []byte("other")}}}); err != nil {
		t.Fatal(err)
	}
	scan := func(start, end []byte, limit int, reverse bool) []string {
		t.Helper()
		var out []string
		if err := kv.Scan(ctx, start, end, limit, reverse, func(k, v []byte) error {
			out = append(out, string(v))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	all := scan([]byte("p/"), []byte("p0"), 0, false)
	if len(all) != 1200 || all[0] != "0" || all[255] != "255" || all[256] != "256" || all[1199] != "1199" {
		t.Fatalf("forward scan: %d keys, first %v", len(all), all[:3])
	}
	if got := scan([]byte("p/"), []byte("p0"), 3, true); fmt.Sprint(got) != "[1199 1198 1197]" {
		t.Fatalf("reverse scan with limit = %v", got)
	}
	if got := scan([]byte("p/"), []byte("p0"), 0, true); len(got) != 1200 || got[0] != "1199" || got[1199] != "0" {
		t.Fatalf("reverse scan: %d keys", len(got))
	}
	if got := scan([]byte("q"), nil, 0, false); fmt.Sprint(got) != "[ end]" {
		t.Fatalf("scan to the end = %q", got)
	}
	if v, found, err := kv.Get(ctx, []byte("q")); err != nil || !found || len(v) != 0 {
		t.Fatalf("empty value = %q, %v, %v", v, found, err)
	}
	// Expectations.
	k := []byte("e/1")
	if err := kv.Commit(ctx, catalog.KVBatch{Expect: []catalog.KVExpect{{Key: k}}, Writes: []catalog.KVWrite{{Key: k, Value: []byte("v1")}}}); err != nil {
		t.Fatalf("create with an absent expectation: %v", err)
	}
	err = kv.Commit(ctx, catalog.KVBatch{Expect: []catalog.KVExpect{{Key: k}}, Writes: []catalog.KVWrite{{Key: k, Value: []byte("v2")}, {Key: []byte("z"), Value: []byte("z")}}})
	if catalog.KindOf(err) != catalog.Conflict || !errors.Is(err, catalog.ErrKVChanged) {
		t.Fatalf("stale expectation: %v, want Conflict wrapping ErrKVChanged", err)
	}
	if _, found, _ := kv.Get(ctx, []byte("z")); found {
		t.Fatal("a refused batch wrote part of itself")
	}
	if err := kv.Commit(ctx, catalog.KVBatch{Expect: []catalog.KVExpect{{Key: k, Value: []byte("v1")}}, Writes: []catalog.KVWrite{{Key: k, Value: []byte("v2")}}}); err != nil {
		t.Fatalf("matching expectation: %v", err)
	}
	// Fencing.
	l, held, err := s.AcquireLease(ctx, "webhooks/delivery", "r1", 30*time.Second)
	if err != nil || !held {
		t.Fatal(l, held, err)
	}
	f := catalog.Fence{Lease: l.Name, Token: l.Token}
	if err := kv.Commit(ctx, catalog.KVBatch{Fence: f, Writes: []catalog.KVWrite{{Key: []byte("c"), Value: []byte("1")}}}); err != nil {
		t.Fatalf("fenced write of the holder: %v", err)
	}
	clock.Advance(31 * time.Second)
	if _, held, err := s.AcquireLease(ctx, "webhooks/delivery", "r2", 30*time.Second); err != nil || !held {
		t.Fatal(held, err)
	}
	err = kv.Commit(ctx, catalog.KVBatch{Fence: f, Writes: []catalog.KVWrite{{Key: []byte("c"), Value: []byte("2")}}})
	if !errors.Is(err, catalog.ErrFenced) {
		t.Fatalf("fenced write after a takeover: %v, want ErrFenced", err)
	}
	if v, _, _ := kv.Get(ctx, []byte("c")); string(v) != "1" {
		t.Fatalf("c = %q after a fenced-off write", v)
	}
	// Deletes.
	if err := kv.Commit(ctx, catalog.KVBatch{Writes: []catalog.KVWrite{
		{Key: []byte{'p', '/', 0, 10}, End: []byte{'p', '/', 4, 0}}, // 10..1023
		{Key: []byte("q"), Delete: true},
	}}); err != nil {
		t.Fatal(err)
	}
	if got := scan([]byte("p/"), []byte("p0"), 0, false); len(got) != 10+176 || got[9] != "9" || got[10] != "1024" {
		t.Fatalf("after the range delete: %d keys", len(got))
	}
	if _, found, _ := kv.Get(ctx, []byte("q")); found {
		t.Fatal("deleted key found")
	}
	var n int
	if err := other.Scan(ctx, nil, nil, 0, false, func(k, v []byte) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("other namespace: %d keys, %v", n, err)
	}
}

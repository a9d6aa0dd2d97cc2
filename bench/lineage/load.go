package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
)

// loadChunk is how many assets one snapshot carries.
const loadChunk = 20_000

// load writes g into the store the way crawlers do: one snapshot per chunk
// of assets (its own source), carrying the assets and the edges into them.
func load(ctx context.Context, s *embedded.Store, g *graph, log *slog.Logger) error {
	n := len(g.kinds)
	chunks := (n + loadChunk - 1) / loadChunk
	// Edges grouped by the chunk of their head.
	start := make([]int, chunks+1)
	for _, v := range g.to {
		start[int(v)/loadChunk+1]++
	}
	for i := 1; i <= chunks; i++ {
		start[i] += start[i-1]
	}
	byChunk := make([]int32, len(g.to))
	pos := append([]int(nil), start[:chunks]...)
	for i, v := range g.to {
		c := int(v) / loadChunk
		byChunk[pos[c]] = int32(i)
		pos[c]++
	}
	last := time.Now()
	for c := 0; c < chunks; c++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		lo, hi := c*loadChunk, min((c+1)*loadChunk, n)
		snap := catalog.Snapshot{Source: fmt.Sprintf("bench-%03d", c), Assets: make([]catalog.Asset, 0, hi-lo)}
		for i := lo; i < hi; i++ {
			snap.Assets = append(snap.Assets, catalog.Asset{URN: g.urn(uint32(i))})
		}
		snap.Links = make([]catalog.Link, 0, start[c+1]-start[c])
		for _, e := range byChunk[start[c]:start[c+1]] {
			u, v := g.from[e], g.to[e]
			snap.Links = append(snap.Links, catalog.Link{From: g.urn(u), Kind: g.edgeKind(u, v), To: g.urn(v), Confidence: 1, Origin: "bench"})
		}
		if _, err := s.Reconcile(ctx, snap, nil); err != nil {
			return fmt.Errorf("load chunk %d: %w", c, err)
		}
		if time.Since(last) > 10*time.Second {
			log.Info("loading", "assets", hi, "of", n)
			last = time.Now()
		}
	}
	return nil
}

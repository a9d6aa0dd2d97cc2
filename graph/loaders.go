package graph

import (
	"context"
	"time"

	"github.com/vikstrous/dataloadgen"

	"github.com/watershed-data/watershed/catalog"
)

// loaders are per-request batching caches: every asset a request resolves
// (neighbours, lineage nodes) is fetched once, in batches.
type loaders struct {
	assets *dataloadgen.Loader[catalog.URN, catalog.Entity]
}

type loadersKey struct{}

func withLoaders(ctx context.Context, c catalog.Reader) context.Context {
	l := &loaders{assets: dataloadgen.NewLoader(func(ctx context.Context, urns []catalog.URN) ([]catalog.Entity, []error) {
		ents, err := c.Entities(ctx, urns)
		if err != nil {
			errs := make([]error, len(urns))
			for i := range errs {
				errs[i] = err
			}
			return make([]catalog.Entity, len(urns)), errs
		}
		return ents, nil
	}, dataloadgen.WithWait(time.Millisecond), dataloadgen.WithBatchCapacity(500))}
	return context.WithValue(ctx, loadersKey{}, l)
}

// loadAssets returns the entities of urns in order, through the request's
// loader when there is one. A URN only referenced by edges yields an entity
// with just its URN, kind and name.
func loadAssets(ctx context.Context, c catalog.Reader, urns []catalog.URN) ([]catalog.Entity, error) {
	var ents []catalog.Entity
	if l, ok := ctx.Value(loadersKey{}).(*loaders); ok {
		var err error
		ents, err = l.assets.LoadAll(ctx, urns)
		if err != nil {
			return nil, err
		}
	} else {
		var err error
		if ents, err = c.Entities(ctx, urns); err != nil {
			return nil, err
		}
	}
	for i := range ents {
		if ents[i].URN == "" {
			ents[i] = catalog.Entity{URN: urns[i], Kind: urns[i].Kind(), Name: urns[i].DisplayName()}
		}
	}
	return ents, nil
}

// forgetAsset drops u from the request's cache after a mutation.
func forgetAsset(ctx context.Context, u catalog.URN) {
	if l, ok := ctx.Value(loadersKey{}).(*loaders); ok {
		l.assets.Clear(u)
	}
}

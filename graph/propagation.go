package graph

import (
	"context"
	"strings"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/lineage"
)

// maxPreview bounds the assets a previewClassification lists.
const maxPreview = 10000

func (r *Resolver) previewClassification(ctx context.Context, urn catalog.URN, c string, first int) (lineage.Preview, error) {
	if first < 0 || first > maxPreview {
		return lineage.Preview{}, catalog.Errorf(catalog.Invalid, "first must be between 0 and %d", maxPreview)
	}
	if first == 0 {
		p, err := lineage.PreviewClassification(ctx, r.Catalog, urn, c, 1)
		p.Reached = nil
		return p, err
	}
	return lineage.PreviewClassification(ctx, r.Catalog, urn, c, first)
}

// reachedAsset resolves the asset of a preview entry through the request's
// loader.
func (r *Resolver) reachedAsset(ctx context.Context, u catalog.URN) (catalog.Entity, error) {
	ents, err := loadAssets(ctx, r.Catalog, []catalog.URN{u})
	if err != nil {
		return catalog.Entity{}, err
	}
	return ents[0], nil
}

// attachmentMode derives the mode of a propagated attachment from its path.
func attachmentMode(a *catalog.Attachment) *lineage.Mode {
	if a.Direct() {
		return nil
	}
	m := lineage.ModeOf(a.Path)
	if m == "" {
		return nil
	}
	return &m
}

// declassify removes what a steward means by "declassify": the manual
// attachment and a rule's attachment of c on u, the latter with a
// suppression so the rule does not attach it again. An attachment only a
// schema tag or a propagation holds is refused with the reason.
func (r *Resolver) declassify(ctx context.Context, u catalog.URN, c string) (catalog.Entity, error) {
	p, err := requireWriter(ctx)
	if err != nil {
		return catalog.Entity{}, err
	}
	e, err := r.Catalog.Entity(ctx, u)
	if err != nil {
		return catalog.Entity{}, err
	}
	var muts []catalog.Mutation
	var others []string
	for _, a := range e.Classifications {
		if a.Classification != c {
			continue
		}
		switch a.Source {
		case catalog.AttachManual:
			muts = append(muts, catalog.Declassify{URN: u, Classification: c})
		case catalog.AttachRule:
			muts = append(muts, catalog.Declassify{URN: u, Classification: c, Source: catalog.AttachRule, Suppress: true})
		case catalog.AttachPropagated:
			others = append(others, "propagated from "+string(a.Origin))
		default:
			others = append(others, "attached by its source ("+string(a.Source)+")")
		}
	}
	if len(muts) == 0 {
		if len(others) > 0 {
			return catalog.Entity{}, catalog.Errorf(catalog.Invalid, "%s carries %s only as %s: declassify the origin, block the edge, or change the source", u, c, strings.Join(others, ", "))
		}
		return catalog.Entity{}, catalog.Errorf(catalog.NotFound, "%s has no classification %s", u, c)
	}
	if _, err := r.Catalog.Apply(ctx, catalog.Batch{Actor: p.Actor(), Origin: "/watershed/graphql", Mutations: muts}); err != nil {
		return catalog.Entity{}, err
	}
	forgetAsset(ctx, u)
	return r.Catalog.Entity(ctx, u)
}

package model

import (
	"github.com/99designs/gqlgen/graphql"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/lineage"
)

// MarshalPropagationMode writes a propagation mode.
func MarshalPropagationMode(m lineage.Mode) graphql.Marshaler {
	return graphql.MarshalString(string(m))
}

// UnmarshalPropagationMode parses a propagation mode.
func UnmarshalPropagationMode(v any) (lineage.Mode, error) {
	s, _ := v.(string)
	switch m := lineage.Mode(s); m {
	case lineage.ModeField, lineage.ModeRollup, lineage.ModeReader, lineage.ModeCoarse, lineage.ModeDataset:
		return m, nil
	}
	return "", catalog.Errorf(catalog.Invalid, "unknown propagation mode %q", s)
}

package model

import (
	"github.com/99designs/gqlgen/graphql"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/lineage"
)

// MarshalLineageLevel writes a walk level (never the automatic one: a
// walk reports the level it used).
func MarshalLineageLevel(l lineage.Level) graphql.Marshaler {
	if l == lineage.LevelAuto {
		return graphql.MarshalString(string(lineage.LevelAll))
	}
	return graphql.MarshalString(string(l))
}

// UnmarshalLineageLevel parses DATASET, FIELD or ALL.
func UnmarshalLineageLevel(v any) (lineage.Level, error) {
	s, _ := v.(string)
	l := lineage.Level(s)
	if l == lineage.LevelAuto || !l.Valid() {
		return "", catalog.Errorf(catalog.Invalid, "level must be DATASET, FIELD or ALL, not %v", v)
	}
	return l, nil
}

// MarshalConsumerVerdict writes BREAKING, UNKNOWN or SAFE.
func MarshalConsumerVerdict(v lineage.Verdict) graphql.Marshaler {
	return graphql.MarshalString(string(v))
}

// UnmarshalConsumerVerdict parses a verdict.
func UnmarshalConsumerVerdict(v any) (lineage.Verdict, error) {
	s, _ := v.(string)
	switch lineage.Verdict(s) {
	case lineage.Breaking, lineage.Unknown, lineage.Safe:
		return lineage.Verdict(s), nil
	}
	return "", catalog.Errorf(catalog.Invalid, "verdict must be BREAKING, UNKNOWN or SAFE, not %v", v)
}

// MarshalFieldChangeKind writes a field change kind.
func MarshalFieldChangeKind(k lineage.ChangeKind) graphql.Marshaler {
	return graphql.MarshalString(string(k))
}

// UnmarshalFieldChangeKind parses a field change kind.
func UnmarshalFieldChangeKind(v any) (lineage.ChangeKind, error) {
	s, _ := v.(string)
	switch k := lineage.ChangeKind(s); k {
	case lineage.ChangeAdded, lineage.ChangeRemoved, lineage.ChangeRenamed, lineage.ChangeTypeChanged,
		lineage.ChangeNullabilityChanged, lineage.ChangeDefaultChanged:
		return k, nil
	}
	return "", catalog.Errorf(catalog.Invalid, "unknown field change kind %v", v)
}

// MarshalSchemaType writes AVRO, PROTOBUF or JSON.
func MarshalSchemaType(t string) graphql.Marshaler { return graphql.MarshalString(t) }

// UnmarshalSchemaType parses a schema type enum.
func UnmarshalSchemaType(v any) (string, error) {
	s, _ := v.(string)
	switch s {
	case "AVRO", "PROTOBUF", "JSON":
		return s, nil
	}
	return "", catalog.Errorf(catalog.Invalid, "schema type must be AVRO, PROTOBUF or JSON, not %v", v)
}

// Package schemaparse turns Schema Registry schemas (Avro, Protobuf, JSON
// Schema) into flat, ordered field trees, and carries the helpers around
// them that the Schema Registry crawler and proposed-schema impact analysis
// share: the Confluent wire format, a field-level Diff and the registry's
// compatibility levels.
//
// It is a pure library: no I/O and no package-level state; every function
// is safe for concurrent use.
//
// # Field paths
//
// A field is named by its dotted path from the root of the schema:
//
//	customer.address.city   a nested record / message / object
//	items[].sku             a field of the element of the array "items"
//	attrs{}.unit            a field of the value of the map "attrs"
//	[].id                   a field of the element of a root-level array
//
// A container itself is a field ("items", "attrs"); its element or value is
// not a field of its own, so the Parent of "items[].sku" is "items". Union
// (Avro), oneof (Protobuf) and anyOf/oneOf (JSON Schema) members are
// flattened into their parent: "after.email" for a Debezium envelope whose
// "after" is ["null", Value]. When two branches declare the same path the
// first one wins. These are the paths of field URNs
// (urn:field:<cluster>/<topic>/<key|value>/<path>, see docs/urns.md).
//
// Fields are listed in pre-order (a parent before its children) in
// declaration order, so a parse is deterministic. A named type that is
// already being expanded on the path from the root (a recursive type) is not
// expanded again: its field is listed with Recursive set and no children.
//
// # Classifications
//
// Field.Props keeps the non-standard attributes a schema author attached to
// a field ("pii": true, "confluent:tags": ["PII"], Protobuf custom options);
// Field.Tags derives classification names from them. Auto-classification
// rules decide what to do with them; this package only reports.
//
// # Errors
//
// Errors from Parse and CheckCompatibility about the input are of kind
// catalog.Invalid and say what is wrong and where (line and column for JSON
// syntax and Protobuf errors). A reference the schema needs but the caller
// did not supply is a *MissingReferenceError. Bad input never panics.
package schemaparse

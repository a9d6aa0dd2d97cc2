package schemaparse

import (
	"fmt"
	"slices"
	"testing"
)

func TestDiff(t *testing.T) {
	old := mustParse(t, Avro, `{"type": "record", "name": "Order", "fields": [
		{"name": "id", "type": "long"},
		{"name": "email", "type": "string"},
		{"name": "amount", "type": "int"},
		{"name": "note", "type": ["null", "string"], "default": null},
		{"name": "status", "type": "string", "default": "NEW"},
		{"name": "customer", "type": {"type": "record", "name": "Customer", "fields": [
			{"name": "name", "type": "string"},
			{"name": "phone", "type": "string"}
		]}}
	]}`)
	new := mustParse(t, Avro, `{"type": "record", "name": "Order", "fields": [
		{"name": "id", "type": "long", "doc": "docs are not compared"},
		{"name": "amount", "type": "long"},
		{"name": "note", "type": "string", "default": ""},
		{"name": "status", "type": "string", "default": "PLACED"},
		{"name": "customer", "type": {"type": "record", "name": "Customer", "fields": [
			{"name": "name", "type": "string"},
			{"name": "address", "type": {"type": "record", "name": "Address", "fields": [{"name": "city", "type": "string"}]}}
		]}},
		{"name": "coupon", "type": ["null", "string"], "default": null}
	]}`)
	got := Diff(old, new)
	var summary []string
	for _, c := range got {
		summary = append(summary, c.Path+" "+c.Kind)
		switch c.Kind {
		case ChangeAdded:
			if c.Before != nil || c.After == nil || c.After.Path != c.Path {
				t.Errorf("%s added: before %v after %v", c.Path, c.Before, c.After)
			}
		case ChangeRemoved:
			if c.After != nil || c.Before == nil || c.Before.Path != c.Path {
				t.Errorf("%s removed: before %v after %v", c.Path, c.Before, c.After)
			}
		default:
			if c.Before == nil || c.After == nil {
				t.Errorf("%s %s: before %v after %v", c.Path, c.Kind, c.Before, c.After)
			}
		}
	}
	want := []string{
		"amount type-changed",
		"coupon added",
		"customer.address added",
		"customer.address.city added",
		"customer.phone removed",
		"email removed",
		"note type-changed",
		"note nullability-changed",
		"note default-changed",
		"status default-changed",
	}
	if !slices.Equal(summary, want) {
		t.Errorf("Diff:\n got  %q\n want %q", summary, want)
	}
	if c := got[0]; c.Before.Type != "int" || c.After.Type != "long" {
		t.Errorf("amount: %s → %s, want int → long", c.Before.Type, c.After.Type)
	}
	if c := got[8]; c.Before.Default != nil || c.After.Default != "" {
		t.Errorf("note default: %v → %q", c.Before.Default, c.After.Default)
	}
}

func TestDiffEdgeCases(t *testing.T) {
	s := mustParse(t, JSON, readTestdata(t, "json/order.json"))
	if d := Diff(s, s); len(d) != 0 {
		t.Errorf("Diff(s, s) = %v, want nothing", d)
	}
	all := Diff(nil, s)
	if len(all) != len(s.Fields) {
		t.Fatalf("Diff(nil, s) has %d changes, want %d", len(all), len(s.Fields))
	}
	for i := 1; i < len(all); i++ {
		if all[i-1].Path > all[i].Path || all[i].Kind != ChangeAdded {
			t.Fatalf("Diff(nil, s)[%d] = %s %s: want added, sorted by path", i, all[i].Path, all[i].Kind)
		}
	}
	if d := Diff(s, nil); len(d) != len(s.Fields) || d[0].Kind != ChangeRemoved {
		t.Errorf("Diff(s, nil) = %d changes, first %v", len(d), d[0].Kind)
	}
	if d := Diff(nil, nil); d != nil {
		t.Errorf("Diff(nil, nil) = %v", d)
	}

	// Gaining a default is a default change; the pointers are copies.
	a := &Schema{Fields: []Field{{Path: "x", Name: "x", Type: "string"}}}
	b := &Schema{Fields: []Field{{Path: "x", Name: "x", Type: "string", HasDefault: true, Default: nil}}}
	d := Diff(a, b)
	if len(d) != 1 || d[0].Kind != ChangeDefault {
		t.Fatalf("Diff = %v, want one default change", d)
	}
	d[0].Before.Type = "mutated"
	if a.Fields[0].Type != "string" {
		t.Error("Diff returned pointers into the input")
	}
}

func ExampleDiff() {
	old, _ := Parse(Avro, `{"type": "record", "name": "User", "fields": [{"name": "id", "type": "int"}, {"name": "email", "type": "string"}]}`, nil)
	new, _ := Parse(Avro, `{"type": "record", "name": "User", "fields": [{"name": "id", "type": "long"}, {"name": "name", "type": ["null", "string"], "default": null}]}`, nil)
	for _, c := range Diff(old, new) {
		fmt.Println(c.Path, c.Kind)
	}
	// Output:
	// email removed
	// id type-changed
	// name added
}

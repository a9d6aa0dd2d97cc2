package schemaparse_test

import (
	"fmt"

	"github.com/watershed-data/watershed/schemaparse"
)

func ExampleParse() {
	schema, err := schemaparse.Parse(schemaparse.Avro, `{
		"type": "record", "name": "Order", "namespace": "com.acme",
		"fields": [
			{"name": "id", "type": "long"},
			{"name": "customer", "type": {"type": "record", "name": "Customer", "fields": [
				{"name": "email", "type": ["null", "string"], "default": null, "pii": true}
			]}},
			{"name": "items", "type": {"type": "array", "items": {"type": "record", "name": "Item", "fields": [
				{"name": "sku", "type": "string"}
			]}}}
		]}`, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(schema.Name)
	for _, f := range schema.Fields {
		fmt.Printf("%-15s %-33s nullable=%-5v tags=%v\n", f.Path, f.Type, f.Nullable, f.Tags)
	}
	// Output:
	// com.acme.Order
	// id              long                              nullable=false tags=[]
	// customer        record<com.acme.Customer>         nullable=false tags=[]
	// customer.email  union<null,string>                nullable=true  tags=[PII]
	// items           array<record<com.acme.Item>>      nullable=false tags=[]
	// items[].sku     string                            nullable=false tags=[]
}

func ExampleCheckCompatibility() {
	v1 := `{"type": "record", "name": "User", "fields": [{"name": "id", "type": "long"}]}`
	v2 := `{"type": "record", "name": "User", "fields": [{"name": "id", "type": "long"}, {"name": "email", "type": "string"}]}`
	ok, messages, err := schemaparse.CheckCompatibility("BACKWARD", v2, []string{v1}, schemaparse.Avro, nil)
	fmt.Println(ok, err)
	for _, m := range messages {
		fmt.Println(m)
	}
	// Output:
	// false <nil>
	// BACKWARD: new schema cannot read data written with previous schema 1 of 1 (latest): field email: the writer does not have it and the reader gives it no default
}

func ExampleParseWireHeader() {
	record := []byte{0x00, 0x00, 0x00, 0x00, 0x2a, 0x00, 0x08, 0x96, 0x01}
	id, rest, err := schemaparse.ParseWireHeader(record)
	if err != nil {
		fmt.Println(err)
		return
	}
	indexes, payload, err := schemaparse.ParseProtobufMessageIndexes(rest)
	fmt.Println(id, indexes, payload, err)
	// Output:
	// 42 [0] [8 150 1] <nil>
}

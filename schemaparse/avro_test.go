package schemaparse

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

func addressReference(t testing.TB) Reference {
	return Reference{Name: "com.acme.common.Address", Subject: "address-value", Version: 1, Schema: readTestdata(t, "avro/address.avsc")}
}

func TestParseAvro(t *testing.T) {
	valueFields := func(p string) []string {
		return []string{p, p + ".id", p + ".first_name", p + ".last_name", p + ".email", p + ".created_at", p + ".balance"}
	}
	debezium := append(append(valueFields("before"), valueFields("after")...),
		"source", "source.version", "source.connector", "source.name", "source.ts_ms", "source.snapshot", "source.db",
		"source.sequence", "source.schema", "source.table", "source.txId", "source.lsn", "source.xmin",
		"op", "ts_ms", "transaction", "transaction.id", "transaction.total_order", "transaction.data_collection_order")
	addressFields := func(p string) []string {
		return []string{p, p + ".street", p + ".city", p + ".zip", p + ".country"}
	}
	order := append(append([]string{"order_id", "placed_at", "delivery_date", "status", "customer", "customer.id", "customer.email", "customer.phone"},
		addressFields("customer.address")...), addressFields("customer.billing_address")...)
	order = append(order, "items", "items[].sku", "items[].quantity", "items[].unit_price", "items[].discounts",
		"attributes", "notes", "notes{}.author", "notes{}.text", "payment", "checksum", "big_id", "ratio", "raw")

	runParseCases(t, []parseCase{
		{
			name:     "debezium postgres envelope",
			typ:      "", // the registry's default
			file:     "avro/debezium_customers_envelope.avsc",
			wantName: "dbserver1.inventory.customers.Envelope",
			wantRoot: "record<dbserver1.inventory.customers.Envelope>",
			paths:    debezium,
			fields: []wantField{
				{path: "before", typ: "union<null,record<dbserver1.inventory.customers.Value>>", nullable: true},
				{path: "after", typ: "union<null,record<dbserver1.inventory.customers.Value>>", nullable: true},
				{path: "after.email", parent: "after", typ: "string"},
				{path: "after.id", parent: "after", typ: "int"},
				{path: "after.created_at", parent: "after", typ: "union<null,long>", nullable: true},
				{path: "after.balance", parent: "after", typ: "union<null,decimal(10,2)>", nullable: true},
				{path: "source", typ: "record<io.debezium.connector.postgresql.Source>"},
				{path: "source.snapshot", parent: "source", typ: "union<string,null>", nullable: true},
				{path: "source.lsn", parent: "source", typ: "union<null,long>", nullable: true},
				{path: "op", typ: "string"},
				{path: "transaction", typ: "union<null,record<event.block>>", nullable: true},
				{path: "transaction.total_order", parent: "transaction", typ: "long"},
			},
		},
		{
			name:     "order with nested records, arrays, maps, unions, logical types",
			typ:      Avro,
			file:     "avro/order.avsc",
			wantName: "com.acme.orders.Order",
			wantRoot: "record<com.acme.orders.Order>",
			paths:    order,
			fields: []wantField{
				{path: "order_id", typ: "uuid"},
				{path: "placed_at", typ: "timestamp-millis"},
				{path: "delivery_date", typ: "union<null,date>", nullable: true},
				{path: "status", typ: "enum<com.acme.orders.Status>"},
				{path: "customer", typ: "record<com.acme.crm.Customer>"},
				{path: "customer.email", parent: "customer", typ: "string", tags: []string{"PII"}},
				{path: "customer.phone", parent: "customer", typ: "union<null,string>", nullable: true, tags: []string{"Contact", "PII"}},
				{path: "customer.address", parent: "customer", typ: "record<com.acme.crm.Address>"},
				{path: "customer.address.city", parent: "customer.address", typ: "string"},
				{path: "customer.address.country", parent: "customer.address", typ: "string"}, // "pii": false
				{path: "customer.billing_address", parent: "customer", typ: "union<null,record<com.acme.crm.Address>>", nullable: true},
				{path: "customer.billing_address.zip", parent: "customer.billing_address", typ: "string"},
				{path: "items", typ: "array<record<com.acme.orders.LineItem>>"},
				{path: "items[].sku", parent: "items", typ: "string"},
				{path: "items[].unit_price", parent: "items", typ: "decimal(10,2)"},
				{path: "items[].discounts", parent: "items", typ: "array<double>"},
				{path: "attributes", typ: "map<long>"},
				{path: "notes", typ: "map<record<com.acme.orders.Note>>"},
				{path: "notes{}.author", parent: "notes", typ: "string"},
				{path: "payment", typ: "union<null,string,long>", nullable: true},
				{path: "checksum", typ: "fixed<com.acme.orders.MD5>"},
			},
		},
		{
			name:     "recursive types stop at a record already on the path",
			file:     "avro/tree.avsc",
			wantName: "com.acme.catalog.Category",
			wantRoot: "record<com.acme.catalog.Category>",
			paths:    []string{"name", "parent", "children", "head", "head.value", "head.next"},
			fields: []wantField{
				{path: "name", typ: "string"},
				{path: "parent", typ: "union<null,record<com.acme.catalog.Category>>", nullable: true, recursive: true},
				{path: "children", typ: "array<record<com.acme.catalog.Category>>", recursive: true},
				{path: "head", typ: "record<com.acme.catalog.Node>"},
				{path: "head.next", parent: "head", typ: "union<null,record<com.acme.catalog.Node>>", nullable: true, recursive: true},
			},
		},
		{
			name:     "pii and confluent tags",
			file:     "avro/user_pii.avsc",
			wantName: "com.acme.identity.User",
			wantRoot: "record<com.acme.identity.User>",
			paths:    []string{"user_id", "email", "ssn", "date_of_birth", "marketing_opt_in", "ip_address"},
			fields: []wantField{
				{path: "user_id", typ: "string"},
				{path: "email", typ: "string", tags: []string{"PII", "PII.Email"}},
				{path: "ssn", typ: "string", tags: []string{"PII", "Sensitive"}}, // attributes on the type
				{path: "date_of_birth", typ: "union<null,date>", nullable: true, tags: []string{"PII"}},
				{path: "marketing_opt_in", typ: "boolean"}, // "pii": "false"
				{path: "ip_address", typ: "string", tags: []string{"PII"}},
			},
		},
		{
			name:     "reference to another subject",
			file:     "avro/customer_with_reference.avsc",
			refs:     []Reference{addressReference(t)},
			wantName: "com.acme.crm.Customer",
			wantRoot: "record<com.acme.crm.Customer>",
			paths:    []string{"id", "home", "home.street", "home.city", "home.country", "work", "work.street", "work.city", "work.country"},
			fields: []wantField{
				{path: "home", typ: "record<com.acme.common.Address>"},
				{path: "home.street", parent: "home", typ: "string", tags: []string{"PII"}},
				{path: "home.country", parent: "home", typ: "enum<com.acme.common.Country>"},
				{path: "work", typ: "union<null,record<com.acme.common.Address>>", nullable: true},
				{path: "work.street", parent: "work", typ: "string", tags: []string{"PII"}},
			},
		},
	})
}

func TestParseAvroDefaultsDocsAndProps(t *testing.T) {
	s := mustParse(t, Avro, readTestdata(t, "avro/order.avsc"))
	if s.Doc != "An order placed in the web shop." {
		t.Errorf("schema doc = %q", s.Doc)
	}
	checkDoc(t, s, "order_id", "Order identifier.")
	checkDoc(t, s, "customer.email", "Contact address.")
	checkDefault(t, s, "status", "PLACED")
	checkDefault(t, s, "delivery_date", nil)
	checkDefault(t, s, "customer.address.zip", "")
	checkDefault(t, s, "items[].quantity", json.Number("1"))
	checkDefault(t, s, "items[].discounts", []any{})
	checkDefault(t, s, "attributes", map[string]any{})
	checkDefault(t, s, "big_id", json.Number("9007199254740993")) // beyond float64 precision: kept as written
	checkDefault(t, s, "ratio", json.Number("0.1"))
	checkDefault(t, s, "raw", "\u00ff\u0000a")
	checkNoDefault(t, s, "order_id")
	checkProp(t, s, "customer.email", "pii", true)
	checkProp(t, s, "customer.address.country", "pii", false)
	checkProp(t, s, "customer.phone", "confluent:tags", []any{"PII", "Contact"})

	dbz := mustParse(t, Avro, readTestdata(t, "avro/debezium_customers_envelope.avsc"))
	checkProp(t, dbz, "after.created_at", "connect.name", "io.debezium.time.MicroTimestamp")
	checkProp(t, dbz, "after.created_at", "connect.version", json.Number("1"))
	checkProp(t, dbz, "source.snapshot", "connect.parameters", map[string]any{"allowed": "true,last,false,incremental"})
	checkDefault(t, dbz, "source.snapshot", "false")
	checkDefault(t, dbz, "after.id", json.Number("0"))
	if f, _ := dbz.Field("op"); f.Props != nil || f.Tags != nil {
		t.Errorf("op: props %v tags %v, want none", f.Props, f.Tags)
	}
}

func TestParseAvroPrimitiveAndContainerRoots(t *testing.T) {
	for _, tc := range []struct {
		text      string
		wantRoot  string
		wantPaths []string
	}{
		{`"string"`, "string", nil},
		{`{"type": "long", "logicalType": "timestamp-micros"}`, "timestamp-micros", nil},
		{`{"type": "array", "items": {"type": "record", "name": "E", "fields": [{"name": "x", "type": "int"}]}}`, "array<record<E>>", []string{"[].x"}},
		{`["null", {"type": "record", "name": "A", "fields": [{"name": "a", "type": "int"}]}, {"type": "record", "name": "B", "fields": [{"name": "a", "type": "long"}, {"name": "b", "type": "string"}]}]`,
			"union<null,record<A>,record<B>>", []string{"a", "b"}},
	} {
		s := mustParse(t, Avro, tc.text)
		checkInvariants(t, s)
		if s.RootType != tc.wantRoot || !slices.Equal(fieldPaths(s), tc.wantPaths) {
			t.Errorf("%s: root %q paths %q, want %q %q", tc.text, s.RootType, fieldPaths(s), tc.wantRoot, tc.wantPaths)
		}
	}
	// The first union branch to declare a path wins.
	s := mustParse(t, Avro, `["null", {"type": "record", "name": "A", "fields": [{"name": "a", "type": "int"}]}, {"type": "record", "name": "B", "fields": [{"name": "a", "type": "long"}]}]`)
	if f, _ := s.Field("a"); f.Type != "int" {
		t.Errorf("a: type %q, want the first branch's int", f.Type)
	}
}

func TestParseAvroReferencesInAnyOrder(t *testing.T) {
	country := Reference{Name: "com.acme.geo.Country", Subject: "country", Version: 1,
		Schema: `{"type": "enum", "name": "Country", "namespace": "com.acme.geo", "symbols": ["DE", "FR"]}`}
	address := Reference{Name: "com.acme.geo.Address", Subject: "address", Version: 3,
		Schema: `{"type": "record", "name": "Address", "namespace": "com.acme.geo", "fields": [{"name": "country", "type": "Country"}]}`}
	text := `{"type": "record", "name": "Shop", "fields": [{"name": "address", "type": "com.acme.geo.Address"}]}`
	// address needs country, yet comes first.
	s := mustParse(t, Avro, text, address, country)
	if f, _ := s.Field("address.country"); f.Type != "enum<com.acme.geo.Country>" {
		t.Errorf("address.country type = %q", f.Type)
	}
	// Without country, the error names the reference that fails and the type
	// it lacks, as written.
	_, err := Parse(Avro, text, []Reference{address})
	var missing *MissingReferenceError
	if !errors.As(err, &missing) || missing.Name != "Country" {
		t.Fatalf("err = %v, want a missing reference Country", err)
	}
}

func TestParseAvroFieldAliases(t *testing.T) {
	s, err := Parse(Avro, `{"type": "record", "name": "User", "fields": [
		{"name": "mail", "aliases": ["email", "e_mail"], "type": "string"},
		{"name": "address", "type": {"type": "record", "name": "Address", "fields": [
			{"name": "town", "aliases": ["city"], "type": "string"}]}},
		{"name": "id", "type": "long"}]}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]string{"mail": {"email", "e_mail"}, "address.town": {"city"}, "id": nil, "address": nil} {
		f, ok := s.Field(path)
		if !ok {
			t.Fatalf("no field %s", path)
		}
		if !slices.Equal(f.Aliases, want) {
			t.Errorf("%s: aliases %q, want %q", path, f.Aliases, want)
		}
	}
}

package connect

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// flowStrings renders the flows of a run as "origin→path[transforms]{mask}".
func flowStrings(r chainRun, schema []string) []string {
	var out []string
	for _, f := range r.flows {
		if schema == nil {
			s := fmt.Sprintf("%s→%s[%s]", f.origin, f.path, strings.Join(f.touched, ","))
			if f.masking {
				s += "{mask}"
			}
			out = append(out, s)
			continue
		}
		for _, t := range f.targets(schema) {
			s := fmt.Sprintf("%s→%s[%s]", f.origin, t.path, strings.Join(t.touched, ","))
			if t.masking {
				s += "{mask}"
			}
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func envelopeFlows(cols ...string) []flow {
	var out []flow
	for _, c := range cols {
		out = append(out, flow{origin: c, path: "after." + c}, flow{origin: c, path: "before." + c})
	}
	return out
}

func TestChainFields(t *testing.T) {
	tests := []struct {
		name   string
		cfg    map[string]string
		flows  []flow
		schema []string // nil: show flows as they leave the chain
		want   []string
	}{
		{
			name:  "no transforms keep the envelope",
			flows: envelopeFlows("email"),
			want:  []string{"email→after.email[]", "email→before.email[]"},
		},
		{
			name:  "unwrap drops before unless deletes are rewritten",
			cfg:   map[string]string{"transforms": "u", "transforms.u.type": "io.debezium.transforms.ExtractNewRecordState"},
			flows: envelopeFlows("email"),
			want:  []string{"email→email[u]"},
		},
		{
			name:  "legacy UnwrapFromEnvelope",
			cfg:   map[string]string{"transforms": "u", "transforms.u.type": "io.debezium.transforms.UnwrapFromEnvelope", "transforms.u.delete.tombstone.handling.mode": "rewrite"},
			flows: envelopeFlows("id"),
			want:  []string{"id→id[u]", "id→id[u]"},
		},
		{
			name: "flatten with underscore after unwrap of a struct column",
			cfg: map[string]string{"transforms": "u,f",
				"transforms.u.type": "io.debezium.transforms.ExtractNewRecordState",
				"transforms.f.type": "org.apache.kafka.connect.transforms.Flatten$Value", "transforms.f.delimiter": "_"},
			flows:  []flow{{origin: "address", path: "after.address"}},
			schema: []string{"address_city", "address_zip", "addressbook", "id"},
			want:   []string{"address→address_city[u,f]", "address→address_zip[u,f]"},
		},
		{
			name:  "flatten the envelope itself",
			cfg:   map[string]string{"transforms": "f", "transforms.f.type": "org.apache.kafka.connect.transforms.Flatten$Value", "transforms.f.delimiter": "_"},
			flows: envelopeFlows("email"),
			want:  []string{"email→after_email[f]", "email→before_email[f]"},
		},
		{
			name:  "flatten keeps arrays nested",
			cfg:   map[string]string{"transforms": "f", "transforms.f.type": "org.apache.kafka.connect.transforms.Flatten$Value"},
			flows: []flow{{origin: "x", path: "a.items[].sku"}, {origin: "y", path: "a.b"}},
			want:  []string{"x→a.items[].sku[]", "y→a.b[]"},
		},
		{
			name: "hoist then extract",
			cfg: map[string]string{"transforms": "h,e",
				"transforms.h.type": "org.apache.kafka.connect.transforms.HoistField$Value", "transforms.h.field": "row",
				"transforms.e.type": "org.apache.kafka.connect.transforms.ExtractField$Value", "transforms.e.field": "row"},
			flows: []flow{{origin: "c", path: "c"}},
			want:  []string{"c→c[h,e]"},
		},
		{
			name:  "ExtractField after keeps only after",
			cfg:   map[string]string{"transforms": "x", "transforms.x.type": "org.apache.kafka.connect.transforms.ExtractField$Value", "transforms.x.field": "after"},
			flows: envelopeFlows("id"),
			want:  []string{"id→id[x]"},
		},
		{
			name: "ReplaceField old names: whitelist drops, renames rename",
			cfg: map[string]string{"transforms": "r", "transforms.r.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
				"transforms.r.whitelist": "id,first_name", "transforms.r.renames": "first_name:firstName"},
			flows: []flow{{origin: "id", path: "id"}, {origin: "first_name", path: "first_name"}, {origin: "ssn", path: "ssn"}},
			want:  []string{"first_name→firstName[r]", "id→id[]"},
		},
		{
			name: "ReplaceField exclude (blocklist)",
			cfg: map[string]string{"transforms": "r", "transforms.r.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
				"transforms.r.blocklist": "ssn"},
			flows: []flow{{origin: "id", path: "id"}, {origin: "ssn", path: "ssn"}},
			want:  []string{"id→id[]"},
		},
		{
			name: "Cast and TimestampConverter touch their fields",
			cfg: map[string]string{"transforms": "c,ts",
				"transforms.c.type": "org.apache.kafka.connect.transforms.Cast$Value", "transforms.c.spec": "amount:float64,qty:int32",
				"transforms.ts.type": "org.apache.kafka.connect.transforms.TimestampConverter$Value", "transforms.ts.field": "created", "transforms.ts.target.type": "string"},
			flows: []flow{{origin: "amount", path: "amount"}, {origin: "created", path: "created"}, {origin: "name", path: "name"}},
			want:  []string{"amount→amount[c]", "created→created[ts]", "name→name[]"},
		},
		{
			name: "key-side transforms and ValueToKey leave values alone",
			cfg: map[string]string{"transforms": "k,v",
				"transforms.k.type": "org.apache.kafka.connect.transforms.ReplaceField$Key", "transforms.k.exclude": "id",
				"transforms.v.type": "org.apache.kafka.connect.transforms.ValueToKey", "transforms.v.fields": "id"},
			flows: []flow{{origin: "id", path: "id"}},
			want:  []string{"id→id[]"},
		},
		{
			name: "HeaderFrom move removes the field",
			cfg: map[string]string{"transforms": "h", "transforms.h.type": "org.apache.kafka.connect.transforms.HeaderFrom$Value",
				"transforms.h.fields": "trace_id", "transforms.h.headers": "trace", "transforms.h.operation": "move"},
			flows: []flow{{origin: "trace_id", path: "trace_id"}, {origin: "id", path: "id"}},
			want:  []string{"id→id[]"},
		},
		{
			name: "mask on a tombstone-only predicate does not apply",
			cfg: map[string]string{"transforms": "m", "transforms.m.type": "org.apache.kafka.connect.transforms.MaskField$Value",
				"transforms.m.fields": "email", "transforms.m.predicate": "tomb",
				"predicates": "tomb", "predicates.tomb.type": "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone"},
			flows: []flow{{origin: "email", path: "email"}},
			want:  []string{"email→email[]"},
		},
		{
			name: "mask on a header predicate is never counted as masking",
			cfg: map[string]string{"transforms": "m", "transforms.m.type": "org.apache.kafka.connect.transforms.MaskField$Value",
				"transforms.m.fields": "email", "transforms.m.predicate": "h",
				"predicates": "h", "predicates.h.type": "org.apache.kafka.connect.transforms.predicates.HasHeaderKey", "predicates.h.name": "pii"},
			flows: []flow{{origin: "email", path: "email"}},
			want:  []string{"email→email[]"},
		},
		{
			name:   "mask of a sub-field of a whole-value flow",
			cfg:    map[string]string{"transforms": "m", "transforms.m.type": "org.apache.kafka.connect.transforms.MaskField$Value", "transforms.m.fields": "card"},
			flows:  []flow{{origin: "payload", path: ""}},
			schema: []string{"card", "card.last4", "amount"},
			want:   []string{"payload→amount[]", "payload→card.last4[m]{mask}", "payload→card[m]{mask}"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch := parseChain(tc.cfg)
			if len(ch.problems) > 0 {
				t.Fatalf("problems: %v", ch.problems)
			}
			got := flowStrings(ch.run("t", tc.flows), tc.schema)
			want := append([]string(nil), tc.want...)
			sort.Strings(want)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("got  %v\nwant %v", got, want)
			}
		})
	}
}

func TestChainRoutes(t *testing.T) {
	tests := []struct {
		name, topic string
		cfg         map[string]string
		want        string // topic, "~pattern", "dropped" or "unknown"
		capped      bool
	}{
		{"RegexRouter with $1", "dbserver1.inventory.customers", map[string]string{"transforms": "r",
			"transforms.r.type": "org.apache.kafka.connect.transforms.RegexRouter", "transforms.r.regex": `dbserver1\.inventory\.(.*)`, "transforms.r.replacement": "cdc.$1"},
			"cdc.customers", false},
		{"RegexRouter needs a full match", "x.dbserver1.inventory.customers", map[string]string{"transforms": "r",
			"transforms.r.type": "org.apache.kafka.connect.transforms.RegexRouter", "transforms.r.regex": `dbserver1\.inventory\.(.*)`, "transforms.r.replacement": "cdc.$1"},
			"x.dbserver1.inventory.customers", false},
		{"RegexRouter named group and literal $", "a.b", map[string]string{"transforms": "r",
			"transforms.r.type": "org.apache.kafka.connect.transforms.RegexRouter", "transforms.r.regex": `(?<db>[^.]+)\.(.+)`, "transforms.r.replacement": `${db}-\$-$2`},
			"a-$-b", false},
		{"TopicNameMatches predicate, negated", "dbserver1.public.outbox", map[string]string{"transforms": "r",
			"transforms.r.type": "org.apache.kafka.connect.transforms.RegexRouter", "transforms.r.regex": `(.*)`, "transforms.r.replacement": "renamed",
			"transforms.r.predicate": "isOutbox", "transforms.r.negate": "true",
			"predicates": "isOutbox", "predicates.isOutbox.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches", "predicates.isOutbox.pattern": `.*\.outbox`},
			"dbserver1.public.outbox", false},
		{"Filter with predicate drops matching topics", "dbserver1.public.audit", map[string]string{"transforms": "f",
			"transforms.f.type": "org.apache.kafka.connect.transforms.Filter", "transforms.f.predicate": "audit",
			"predicates": "audit", "predicates.audit.type": "org.apache.kafka.connect.transforms.predicates.TopicNameMatches", "predicates.audit.pattern": `.*audit`},
			"dropped", false},
		{"TimestampRouter gives a pattern", "orders", map[string]string{"transforms": "ts",
			"transforms.ts.type": "org.apache.kafka.connect.transforms.TimestampRouter", "transforms.ts.topic.format": "${topic}-${timestamp}", "transforms.ts.timestamp.format": "YYYYMMdd"},
			`~^(?:orders-.+)$`, false},
		{"ContentBasedRouter is unknowable", "orders", map[string]string{"transforms": "c",
			"transforms.c.type": "io.debezium.transforms.ContentBasedRouter", "transforms.c.topic.expression": "value.op == 'u' ? 'updates' : null", "transforms.c.language": "jsr223.groovy"},
			"unknown", false},
		{"unknown transform caps confidence", "orders", map[string]string{"transforms": "x", "transforms.x.type": "com.acme.Magic"},
			"orders", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch := parseChain(tc.cfg)
			if len(ch.problems) > 0 {
				t.Fatalf("problems: %v", ch.problems)
			}
			r := ch.run(tc.topic, nil)
			var got string
			switch {
			case r.route.dropped:
				got = "dropped"
			case r.route.unknown:
				got = "unknown"
			case r.route.pattern != nil:
				got = "~" + r.route.pattern.String()
			default:
				got = r.route.topic
			}
			if got != tc.want || r.capped != tc.capped {
				t.Errorf("route %q capped=%v, want %q capped=%v", got, r.capped, tc.want, tc.capped)
			}
		})
	}
}

func TestChainProblemsAndNotes(t *testing.T) {
	ch := parseChain(map[string]string{
		"transforms":               "a,b,c,d,e",
		"transforms.a.type":        "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.a.regex":       `(\w+)\1`,
		"transforms.b.type":        "",
		"transforms.c.type":        "org.apache.kafka.connect.transforms.ReplaceField$Value",
		"transforms.c.renames":     "broken",
		"transforms.d.type":        "com.acme.Custom$Value",
		"transforms.e.type":        "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.e.regex":       "(a)",
		"transforms.e.replacement": "$2",
	})
	joined := strings.Join(ch.problems, "\n")
	for _, want := range []string{"backreferences", `transform "b" has no transforms.b.type`, `renames entry "broken"`, "no group 2"} {
		if !strings.Contains(joined, want) {
			t.Errorf("problems lack %q:\n%s", want, joined)
		}
	}
	if len(ch.notes) != 1 || !strings.Contains(ch.notes[0], "com.acme.Custom$Value") {
		t.Errorf("notes = %v", ch.notes)
	}
}

func TestInverse(t *testing.T) {
	ch := parseChain(map[string]string{
		"transforms":                "u,r,f,i",
		"transforms.u.type":         "io.debezium.transforms.ExtractNewRecordState",
		"transforms.u.add.fields":   "op,source.ts_ms",
		"transforms.r.type":         "org.apache.kafka.connect.transforms.ReplaceField$Value",
		"transforms.r.renames":      "first_name:firstName",
		"transforms.f.type":         "org.apache.kafka.connect.transforms.Flatten$Value",
		"transforms.f.delimiter":    "_",
		"transforms.i.type":         "org.apache.kafka.connect.transforms.InsertField$Value",
		"transforms.i.static.field": "origin!",
		"transforms.i.static.value": "pg",
	})
	applied := []bool{true, true, true, true}
	got := envelopeColumns(ch.inverseAll([]string{"firstName", "last_name", "__op", "__source_ts_ms", "origin", "first_name"}, applied))
	// "first_name" is renamed away: nothing produces it; firstName comes
	// from column first_name; fields added by unwrap and InsertField come
	// from no column.
	want := []string{"first_name", "last_name"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("inverse = %v, want %v", got, want)
	}
}

// TestChainPreimages runs chains backwards on topic names: a start topic is
// named only where the routers leave a single candidate.
func TestChainPreimages(t *testing.T) {
	router := func(regex, repl string) map[string]string {
		return map[string]string{
			"transforms": "r", "transforms.r.type": "org.apache.kafka.connect.transforms.RegexRouter",
			"transforms.r.regex": regex, "transforms.r.replacement": repl,
		}
	}
	tests := []struct {
		name  string
		cfg   map[string]string
		topic string
		want  string // comma-joined preimages; "?" when they cannot be enumerated
	}{
		{"no transforms", map[string]string{}, "book", "book"},
		{"prefixing router", router("(.*)", "jdbc_$1"), "jdbc_book", "book"},
		{"prefixing router, foreign topic", router("(.*)", "jdbc_$1"), "other", ""},
		{"lossy router", router(".*(book)", "my-new-topic-$1"), "my-new-topic-book", "?"},
		{"constant router", router(".*", "my-new-topic"), "my-new-topic", "?"},
		{"partial router: untouched names pass", router("(mem.*)", "lib_$1"), "lib_member", "lib_member,member"},
		{"reordering router: a dotless name passes too", router(`([^.]+)\.([^.]+)`, "$2_$1"), "orders_shop", "orders_shop,shop.orders"},
		{"named groups", router(`(?<db>[^.]+)\.(?<t>[^.]+)`, "${t}-from-${db}"), "orders-from-shop", "orders-from-shop,shop.orders"},
		{"ambiguous split", router("(.*)_(.*)", "$1-$2"), "a-b-c", "?"},
		{"dropped group", router(`(.*)customers_shard(.*)`, "$1customers_all_shards"), "db.customers_all_shards", "?"},
		{"content router", map[string]string{"transforms": "x", "transforms.x.type": "io.confluent.connect.transforms.ExtractTopic$Value", "transforms.x.field": "name"}, "Book1", "?"},
		{"timestamp router", map[string]string{"transforms": "ts", "transforms.ts.type": "org.apache.kafka.connect.transforms.TimestampRouter"}, "book-20240101", "?"},
	}
	for _, tc := range tests {
		ch := parseChain(tc.cfg)
		if len(ch.problems) > 0 {
			t.Fatalf("%s: %v", tc.name, ch.problems)
		}
		got, ok := ch.preimages(tc.topic)
		s := strings.Join(got, ",")
		if !ok {
			s = "?"
		}
		sorted := strings.Split(s, ",")
		sort.Strings(sorted)
		if s = strings.Join(sorted, ","); s != tc.want {
			t.Errorf("%s: preimages(%q) = %q, want %q", tc.name, tc.topic, s, tc.want)
		}
	}
}

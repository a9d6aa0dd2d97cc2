package schemaregistry

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/watershed-data/watershed/catalog"
)

const (
	orderV1 = `{"type":"record","name":"Order","namespace":"com.acme","doc":"An order.","fields":[{"name":"id","type":"string"}]}`
	orderV2 = `{"type":"record","name":"Order","namespace":"com.acme","doc":"An order.","fields":[{"name":"id","type":"string"},{"name":"total","type":"long","default":0}]}`
	orderV3 = `{"type":"record","name":"Order","namespace":"com.acme","doc":"An order.","fields":[{"name":"id","type":"string"},{"name":"total","type":"long","default":0},{"name":"note","type":["null","string"],"default":null}]}`
)

// seedEstate registers a small but realistic registry: a topic with key and
// value subjects (two live versions, one soft-deleted), a schema with a
// cross-subject reference, a soft-deleted subject, per-subject levels.
func seedEstate(t *testing.T, reg *srfake.Registry) {
	t.Helper()
	ctx := testCtx(t)
	cl := srClient(t, reg)
	register(t, reg, "orders-key", `"string"`, sr.TypeAvro)
	register(t, reg, "orders-value", orderV1, sr.TypeAvro)
	register(t, reg, "orders-value", orderV2, sr.TypeAvro)
	register(t, reg, "orders-value", orderV3, sr.TypeAvro)
	if err := cl.DeleteSchema(ctx, "orders-value", 3, sr.SoftDelete); err != nil {
		t.Fatalf("soft-delete version: %v", err)
	}
	register(t, reg, "address", readTestdata(t, "avro/address.avsc"), sr.TypeAvro)
	register(t, reg, "crm.customers-value", readTestdata(t, "avro/customer_with_reference.avsc"), sr.TypeAvro,
		sr.SchemaReference{Name: "com.acme.common.Address", Subject: "address", Version: 1})
	register(t, reg, "legacy-value", orderV1, sr.TypeAvro)
	if _, err := cl.DeleteSubject(ctx, "legacy-value", sr.SoftDelete); err != nil {
		t.Fatalf("soft-delete subject: %v", err)
	}
	if err := reg.SetCompat("orders-value", sr.CompatFull); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetMode("orders-key", sr.ModeReadOnly); err != nil {
		t.Fatal(err)
	}
}

func TestCrawlRegistry(t *testing.T) {
	reg := newRegistry(t)
	seedEstate(t, reg)
	snap := crawlOnce(t, newTestCrawler(t, noSample(reg), nil))

	if snap.Incomplete != nil {
		t.Errorf("incomplete: %v", snap.Incomplete)
	}
	wantSubjects := []string{
		string(subjectURN("address")), string(subjectURN("crm.customers-value")),
		string(subjectURN("orders-key")), string(subjectURN("orders-value")),
	}
	if got := assetURNs(snap, catalog.KindSchemaSubject); !reflect.DeepEqual(got, wantSubjects) {
		t.Errorf("subjects %v\nwant %v", got, wantSubjects)
	}
	wantVersions := []string{
		string(SchemaURN(testSource, "address", 1)), string(SchemaURN(testSource, "crm.customers-value", 1)),
		string(SchemaURN(testSource, "orders-key", 1)),
		string(SchemaURN(testSource, "orders-value", 1)), string(SchemaURN(testSource, "orders-value", 2)),
	}
	if got := assetURNs(snap, catalog.KindSchemaVersion); !reflect.DeepEqual(got, wantVersions) {
		t.Errorf("versions %v\nwant %v", got, wantVersions)
	}

	props := []struct {
		urn   catalog.URN
		key   string
		want  string
		scope string
	}{
		{RegistryURN(testSource), "url", `"` + reg.URL() + `"`, ""},
		{RegistryURN(testSource), "compatibility", `"BACKWARD"`, ""},
		{RegistryURN(testSource), "mode", `"READWRITE"`, ""},
		{RegistryURN(testSource), "subjectCount", `4`, ""},
		{subjectURN("orders-value"), "compatibility", `"FULL"`, "subject/orders-value"},
		{subjectURN("orders-value"), "compatibilitySource", `"subject"`, "subject/orders-value"},
		{subjectURN("orders-value"), "mode", `"READWRITE"`, "subject/orders-value"},
		{subjectURN("orders-value"), "modeSource", `"global"`, "subject/orders-value"},
		{subjectURN("orders-value"), "latestVersion", `2`, "subject/orders-value"},
		{subjectURN("orders-value"), "versions", `2`, "subject/orders-value"},
		{subjectURN("orders-value"), "schemaType", `"AVRO"`, "subject/orders-value"},
		{subjectURN("orders-value"), "recordName", `"com.acme.Order"`, "subject/orders-value"},
		{subjectURN("orders-key"), "compatibility", `"BACKWARD"`, "subject/orders-key"},
		{subjectURN("orders-key"), "compatibilitySource", `"global"`, "subject/orders-key"},
		{subjectURN("orders-key"), "mode", `"READONLY"`, "subject/orders-key"},
		{subjectURN("orders-key"), "modeSource", `"subject"`, "subject/orders-key"},
		{subjectURN("orders-key"), "recordName", `<absent>`, "subject/orders-key"},
		{SchemaURN(testSource, "orders-value", 2), "fieldCount", `2`, "subject/orders-value"},
		{SchemaURN(testSource, "orders-value", 2), "schema", mustJSON(t, orderV2), "subject/orders-value"},
		{SchemaURN(testSource, "orders-value", 2), "schemaTruncated", `<absent>`, "subject/orders-value"},
		{SchemaURN(testSource, "orders-value", 2), "parseError", `<absent>`, "subject/orders-value"},
		{SchemaURN(testSource, "orders-value", 1), "fieldCount", `1`, "subject/orders-value"},
		{SchemaURN(testSource, "crm.customers-value", 1), "references", `[{"name":"com.acme.common.Address","subject":"address","version":1}]`, "subject/crm.customers-value"},
		{SchemaURN(testSource, "crm.customers-value", 1), "recordName", `"com.acme.crm.Customer"`, "subject/crm.customers-value"},
		{SchemaURN(testSource, "crm.customers-value", 1), "fieldCount", `9`, "subject/crm.customers-value"},
		{topicURN("orders"), "valueSchemaSubject", `"orders-value"`, "topic/orders"},
		{topicURN("orders"), "keySchemaSubject", `"orders-key"`, "topic/orders"},
		{topicURN("orders"), "valueSchemaName", `"com.acme.Order"`, "topic/orders"},
		{topicURN("orders"), "valueSchemaVersion", `2`, "topic/orders"},
		{topicURN("orders"), "valueSchemaBinding", `"topic-name-strategy"`, "topic/orders"},
		{topicURN("orders"), "keySchemaType", `"AVRO"`, "topic/orders"},
		{topicURN("orders"), "sampledSchemaIds", `<absent>`, "topic/orders"},
	}
	for _, tc := range props {
		a := mustAsset(t, snap, tc.urn)
		if got := propJSON(t, a.Properties, tc.key); got != tc.want {
			t.Errorf("%s %s = %s, want %s", tc.urn, tc.key, got, tc.want)
		}
		if a.Scope != tc.scope {
			t.Errorf("%s scope %q, want %q", tc.urn, a.Scope, tc.scope)
		}
	}
	v2 := mustAsset(t, snap, SchemaURN(testSource, "orders-value", 2))
	if id, _ := reg.GetSchema("orders-value", 2); propJSON(t, mustAsset(t, snap, topicURN("orders")).Properties, "valueSchemaId") != mustJSON(t, id.ID) ||
		propJSON(t, v2.Properties, "schemaId") != mustJSON(t, id.ID) {
		t.Errorf("schema ids: topic %v, version %v; want %d", mustAsset(t, snap, topicURN("orders")).Properties["valueSchemaId"], v2.Properties["schemaId"], id.ID)
	}
	if v2.Description != "An order." || v2.Name != "orders-value v2" {
		t.Errorf("version name %q description %q", v2.Name, v2.Description)
	}

	wantLinks := []struct {
		from   catalog.URN
		kind   catalog.EdgeKind
		to     catalog.URN
		origin string
		scope  string
	}{
		{RegistryURN(testSource), catalog.EdgeContains, subjectURN("orders-value"), OriginRegistry, "subject/orders-value"},
		{subjectURN("orders-value"), catalog.EdgeHasSchema, SchemaURN(testSource, "orders-value", 2), OriginRegistry, "subject/orders-value"},
		{topicURN("orders"), catalog.EdgeHasSchema, subjectURN("orders-value"), OriginTopicNameStrategy, "subject/orders-value"},
		{topicURN("orders"), catalog.EdgeHasSchema, subjectURN("orders-key"), OriginTopicNameStrategy, "subject/orders-key"},
		{topicURN("crm.customers"), catalog.EdgeHasSchema, subjectURN("crm.customers-value"), OriginTopicNameStrategy, "subject/crm.customers-value"},
	}
	for _, w := range wantLinks {
		l, ok := findLink(snap, w.from, w.kind, w.to)
		if !ok {
			t.Errorf("missing link %s -%s-> %s", w.from, w.kind, w.to)
			continue
		}
		if l.Origin != w.origin || l.Scope != w.scope || l.Confidence <= 0 {
			t.Errorf("link %s: origin %q scope %q confidence %v", l.Key(), l.Origin, l.Scope, l.Confidence)
		}
	}
	if got := linkSet(snap, catalog.EdgeHasSchema, "urn:topic:"); len(got) != 3 {
		t.Errorf("topic bindings %v", got)
	}
	// The unbound "address" subject has no topic and no fields.
	for _, a := range snap.Assets {
		if a.URN.Kind() == catalog.KindField && strings.Contains(string(a.URN), "/address/") {
			t.Errorf("field of an unbound subject: %s", a.URN)
		}
	}
	if got := assetURNs(snap, catalog.KindTopic); !reflect.DeepEqual(got, []string{string(topicURN("crm.customers")), string(topicURN("orders"))}) {
		t.Errorf("topics %v", got)
	}
	// Fields of a referenced type resolve through the reference.
	city := mustAsset(t, snap, fieldURN("crm.customers", PartValue, "home.city"))
	if city.Properties["type"] != "string" || city.Properties["subject"] != "crm.customers-value" {
		t.Errorf("home.city %v", city.Properties)
	}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSubjectsComeAndGo crawls, changes the registry, and crawls again: a
// subject that was deleted (soft) is absent with its versions, fields and
// links; a new one is present.
func TestSubjectsComeAndGo(t *testing.T) {
	reg := newRegistry(t)
	register(t, reg, "orders-value", orderV1, sr.TypeAvro)
	register(t, reg, "payments-value", orderV2, sr.TypeAvro)
	cr := newTestCrawler(t, noSample(reg), nil)
	first := crawlOnce(t, cr)

	if _, err := srClient(t, reg).DeleteSubject(testCtx(t), "payments-value", sr.SoftDelete); err != nil {
		t.Fatal(err)
	}
	register(t, reg, "refunds-value", orderV3, sr.TypeAvro)
	register(t, reg, "orders-value", orderV2, sr.TypeAvro)
	second := crawlOnce(t, cr)

	for _, tc := range []struct {
		urn           catalog.URN
		first, second bool
	}{
		{subjectURN("payments-value"), true, false},
		{SchemaURN(testSource, "payments-value", 1), true, false},
		{topicURN("payments"), true, false},
		{fieldURN("payments", PartValue, "total"), true, false},
		{subjectURN("refunds-value"), false, true},
		{fieldURN("refunds", PartValue, "note"), false, true},
		{SchemaURN(testSource, "orders-value", 2), false, true},
		{fieldURN("orders", PartValue, "total"), false, true},
		{fieldURN("orders", PartValue, "id"), true, true},
	} {
		if _, ok := findAsset(first, tc.urn); ok != tc.first {
			t.Errorf("first crawl has %s: %v", tc.urn, ok)
		}
		if _, ok := findAsset(second, tc.urn); ok != tc.second {
			t.Errorf("second crawl has %s: %v", tc.urn, ok)
		}
	}
	if _, ok := findLink(second, topicURN("payments"), catalog.EdgeHasSchema, subjectURN("payments-value")); ok {
		t.Error("binding of a deleted subject")
	}
	if second.Incomplete != nil {
		t.Errorf("incomplete %v", second.Incomplete)
	}
	id := mustAsset(t, second, fieldURN("orders", PartValue, "id"))
	if id.Properties["version"] != 2 {
		t.Errorf("field version %v", id.Properties["version"])
	}
}

// TestRecrawlIsStable: two crawls of an unchanged registry assert the same
// properties and links, so the store writes no change event.
func TestRecrawlIsStable(t *testing.T) {
	reg := newRegistry(t)
	seedEstate(t, reg)
	register(t, reg, "users-value", readTestdata(t, "avro/user_pii.avsc"), sr.TypeAvro)
	cr := newTestCrawler(t, noSample(reg), nil)
	a, b := crawlOnce(t, cr), crawlOnce(t, cr)
	if !reflect.DeepEqual(stableView(t, a), stableView(t, b)) {
		t.Error("a re-crawl of an unchanged registry changed the snapshot")
	}
}

// stableView is what change events are derived from: assets without Live,
// links, incomplete scopes.
func stableView(t testing.TB, s catalog.Snapshot) string {
	t.Helper()
	for i := range s.Assets {
		s.Assets[i].Live = nil
	}
	b, err := json.Marshal(struct {
		A []catalog.Asset
		L []catalog.Link
		I map[string]string
	}{s.Assets, s.Links, s.Incomplete})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestBadSchemaRecorded: a schema that does not parse is catalogued with its
// error, and everything else is.
func TestBadSchemaRecorded(t *testing.T) {
	reg := newRegistry(t)
	register(t, reg, "orders-value", orderV1, sr.TypeAvro)
	register(t, reg, "broken-value", `{"type":"record","name":"Broken","fields":[{"name":"x","type":"no.such.Type"}]}`, sr.TypeAvro)
	register(t, reg, "broken-proto-value", "syntax = \"proto3\";\nmessage M { strin x = 1; }\n", sr.TypeProtobuf)
	snap := crawlOnce(t, newTestCrawler(t, noSample(reg), nil))

	for _, subject := range []string{"broken-value", "broken-proto-value"} {
		v := mustAsset(t, snap, SchemaURN(testSource, subject, 1))
		perr, _ := v.Properties["parseError"].(string)
		if perr == "" || v.Properties["fieldCount"] != nil || v.Properties["schema"] == nil {
			t.Errorf("%s: properties %v", subject, v.Properties)
		}
		if _, ok := findLink(snap, topicURN(strings.TrimSuffix(subject, "-value")), catalog.EdgeHasSchema, subjectURN(subject)); !ok {
			t.Errorf("%s is still bound to its topic", subject)
		}
		for _, a := range snap.Assets {
			if a.URN.Kind() == catalog.KindField && strings.Contains(string(a.URN), "/"+strings.TrimSuffix(subject, "-value")+"/") {
				t.Errorf("field of an unparsable schema: %s", a.URN)
			}
		}
	}
	if perr := mustAsset(t, snap, SchemaURN(testSource, "broken-value", 1)).Properties["parseError"].(string); !strings.Contains(perr, "no.such.Type") {
		t.Errorf("parse error %q does not name the unknown type", perr)
	}
	if perr := mustAsset(t, snap, SchemaURN(testSource, "broken-proto-value", 1)).Properties["parseError"].(string); !strings.Contains(perr, "schema.proto:2") {
		t.Errorf("parse error %q has no position", perr)
	}
	mustAsset(t, snap, fieldURN("orders", PartValue, "id"))
	if snap.Incomplete != nil {
		t.Errorf("a bad schema made the crawl incomplete: %v", snap.Incomplete)
	}
}

// TestUnreachableRegistry: the crawl fails with an Unavailable error.
func TestUnreachableRegistry(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	f := false
	cr := newTestCrawler(t, Config{URL: "http://" + addr, Cluster: testCluster, Timeout: "2s", Sample: SampleConfig{Enabled: &f}}, nil)
	_, err = cr.Crawl(testCtx(t))
	if err == nil || catalog.KindOf(err) != catalog.Unavailable || !strings.Contains(err.Error(), "list subjects") {
		t.Fatalf("err = %v (kind %v)", err, catalog.KindOf(err))
	}
}

// TestRegistryErrors: per-subject failures mark that subject's scope (and
// its topic's) incomplete; the rest of the registry is catalogued.
// Failures of the registry as a whole fail the crawl.
func TestRegistryErrors(t *testing.T) {
	fail := func(status int, pred func(r *http.Request) bool) srfake.Interceptor {
		return func(w http.ResponseWriter, r *http.Request) bool {
			if !pred(r) {
				return false
			}
			w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
			w.WriteHeader(status)
			_, err := w.Write([]byte(`{"error_code":50001,"message":"Error in the backend data store"}`))
			return err == nil
		}
	}
	path := func(p string) func(r *http.Request) bool {
		return func(r *http.Request) bool { return r.URL.Path == p }
	}
	tests := []struct {
		name       string
		intercept  srfake.Interceptor
		crawlErr   string            // substring of the crawl error; "" means the crawl succeeds
		errKind    catalog.ErrorKind // of the crawl error
		incomplete map[string]string // scope → substring of the reason
		absent     []catalog.URN     // not asserted
		present    []catalog.URN     // asserted
	}{
		{
			name:      "versions of one subject 500",
			intercept: fail(500, path("/subjects/orders-value/versions")),
			incomplete: map[string]string{
				"subject/orders-value": "list versions: HTTP 500: Error in the backend data store",
				"topic/orders":         "subject orders-value could not be read",
			},
			absent:  []catalog.URN{subjectURN("orders-value"), SchemaURN(testSource, "orders-value", 1), topicURN("orders"), fieldURN("orders", PartValue, "id")},
			present: []catalog.URN{subjectURN("orders-key"), subjectURN("payments-value"), topicURN("payments"), fieldURN("payments", PartValue, "total"), RegistryURN(testSource)},
		},
		{
			name:      "config of one subject 500",
			intercept: fail(500, path("/config/payments-value")),
			incomplete: map[string]string{
				"subject/payments-value": "read compatibility: HTTP 500",
				"topic/payments":         "could not be read",
			},
			absent:  []catalog.URN{subjectURN("payments-value"), topicURN("payments")},
			present: []catalog.URN{subjectURN("orders-value"), topicURN("orders")},
		},
		{
			name: "one version of a subject 500 while the bulk listing is refused",
			intercept: fail(500, func(r *http.Request) bool {
				return r.URL.Path == "/schemas" || r.URL.Path == "/subjects/payments-value/versions/1"
			}),
			incomplete: map[string]string{
				"subject/payments-value": "read version 1: HTTP 500",
				"topic/payments":         "could not be read",
			},
			absent:  []catalog.URN{subjectURN("payments-value")},
			present: []catalog.URN{subjectURN("orders-value"), SchemaURN(testSource, "orders-value", 1), fieldURN("orders", PartValue, "id")},
		},
		{
			name: "reference cannot be fetched",
			intercept: fail(500, func(r *http.Request) bool {
				return r.URL.Path == "/schemas" || r.URL.Path == "/subjects/address/versions/1"
			}),
			incomplete: map[string]string{
				"subject/crm.customers-value": "resolve references of version 1",
				"subject/address":             "read version 1",
				"topic/crm.customers":         "subject crm.customers-value could not be read",
			},
			absent: []catalog.URN{subjectURN("crm.customers-value")},
		},
		{name: "subject listing 500", intercept: fail(500, path("/subjects")), crawlErr: "list subjects: HTTP 500", errKind: catalog.Unavailable},
		{name: "credentials refused", intercept: fail(401, path("/subjects")), crawlErr: "list subjects: HTTP 401", errKind: catalog.Permission},
		{name: "global config 500", intercept: fail(500, path("/config")), crawlErr: "read global compatibility", errKind: catalog.Unavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := newRegistry(t)
			register(t, reg, "orders-key", `"string"`, sr.TypeAvro)
			register(t, reg, "orders-value", orderV1, sr.TypeAvro)
			register(t, reg, "payments-value", orderV2, sr.TypeAvro)
			register(t, reg, "address", readTestdata(t, "avro/address.avsc"), sr.TypeAvro)
			register(t, reg, "crm.customers-value", readTestdata(t, "avro/customer_with_reference.avsc"), sr.TypeAvro,
				sr.SchemaReference{Name: "com.acme.common.Address", Subject: "address", Version: 1})
			reg.Intercept(tc.intercept)
			cr := newTestCrawler(t, noSample(reg), nil)
			snap, err := cr.Crawl(testCtx(t))
			if tc.crawlErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.crawlErr) || catalog.KindOf(err) != tc.errKind {
					t.Fatalf("err = %v (kind %v), want %q (kind %v)", err, catalog.KindOf(err), tc.crawlErr, tc.errKind)
				}
				return
			}
			if err != nil {
				t.Fatalf("crawl: %v", err)
			}
			checkSnapshot(t, snap)
			if len(snap.Incomplete) != len(tc.incomplete) {
				t.Errorf("incomplete %v, want %d scopes", snap.Incomplete, len(tc.incomplete))
			}
			for scope, want := range tc.incomplete {
				if got, ok := snap.Incomplete[scope]; !ok || !strings.Contains(got, want) {
					t.Errorf("incomplete[%s] = %q, want %q", scope, got, want)
				}
			}
			for _, u := range tc.absent {
				if _, ok := findAsset(snap, u); ok {
					t.Errorf("%s asserted", u)
				}
			}
			for _, u := range tc.present {
				mustAsset(t, snap, u)
			}
		})
	}
}

// TestBulkListingUsed: a registry of many subjects is read with one bulk
// listing of schemas and three requests per subject, not one per version;
// subjects the filters leave out are absent everywhere.
func TestBulkListingUsed(t *testing.T) {
	reg := newRegistry(t)
	const n = 120
	for i := 0; i < n; i++ {
		subject := "topic" + itoa3(i) + "-value"
		register(t, reg, subject, orderV1, sr.TypeAvro)
		register(t, reg, subject, orderV2, sr.TypeAvro)
		register(t, reg, subject, orderV3, sr.TypeAvro)
	}
	register(t, reg, "internal.audit-value", orderV1, sr.TypeAvro)
	var log requestLog
	reg.Intercept(log.intercept)
	cfg := noSample(reg)
	cfg.SubjectExclude = []string{`internal\..*`}
	snap := crawlOnce(t, newTestCrawler(t, cfg, nil))

	if got := len(assetURNs(snap, catalog.KindSchemaVersion)); got != 3*n {
		t.Errorf("%d versions, want %d", got, 3*n)
	}
	if got := len(assetURNs(snap, catalog.KindSchemaSubject)); got != n {
		t.Errorf("%d subjects, want %d", got, n)
	}
	perVersion := log.count(func(r string) bool { return strings.Contains(r, "/versions/") })
	bulk := log.count(func(r string) bool { return r == "GET /schemas" })
	total := log.count(func(string) bool { return true })
	if perVersion != 0 || bulk != 1 || total != 3+1+3*n {
		t.Errorf("requests: %d total, %d bulk, %d per version; want %d, 1, 0", total, bulk, perVersion, 3+1+3*n)
	}
	if _, ok := findAsset(snap, subjectURN("internal.audit-value")); ok {
		t.Error("an excluded subject is catalogued")
	}
	if _, ok := findAsset(snap, topicURN("internal.audit")); ok {
		t.Error("the topic of an excluded subject is catalogued")
	}
}

func itoa3(i int) string {
	return string([]byte{byte('0' + i/100), byte('0' + i/10%10), byte('0' + i%10)})
}

// TestSchemaTextTruncated: a schema text over 64 KiB is kept truncated and
// flagged; it is still parsed whole.
func TestSchemaTextTruncated(t *testing.T) {
	reg := newRegistry(t)
	var b strings.Builder
	b.WriteString(`{"type":"record","name":"Wide","doc":"`)
	b.WriteString(strings.Repeat("é", 40<<10))
	b.WriteString(`","fields":[{"name":"id","type":"string"}]}`)
	register(t, reg, "wide-value", b.String(), sr.TypeAvro)
	snap := crawlOnce(t, newTestCrawler(t, noSample(reg), nil))
	v := mustAsset(t, snap, SchemaURN(testSource, "wide-value", 1))
	text := v.Properties["schema"].(string)
	if len(text) > maxSchemaText || len(text) < maxSchemaText-1 || v.Properties["schemaTruncated"] != true || v.Properties["schemaBytes"] != len(b.String()) {
		t.Errorf("schema of %d bytes, truncated %v, bytes %v", len(text), v.Properties["schemaTruncated"], v.Properties["schemaBytes"])
	}
	if !strings.HasSuffix(text, "é") || v.Properties["fieldCount"] != 1 {
		t.Errorf("cut inside a character or not parsed: %q…, %v fields", text[len(text)-4:], v.Properties["fieldCount"])
	}
}

func TestErrorsHaveStatus(t *testing.T) {
	err := describe(&sr.ResponseError{StatusCode: 500, Message: "boom"})
	if err.Error() != "HTTP 500: boom" {
		t.Errorf("%v", err)
	}
	var re *sr.ResponseError
	if !errors.As(err, &re) {
		t.Error("cause lost")
	}
}

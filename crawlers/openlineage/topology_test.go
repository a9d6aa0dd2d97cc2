package openlineage

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/watershed-data/watershed/catalog"
)

func TestParseTopologyDocsExamples(t *testing.T) {
	cases := []struct {
		file, app string
		want      streamsLineage
	}{
		{"wordcount.txt", "wordcount", streamsLineage{
			subTopologies: 2, processors: 5,
			sources: []string{"streams-plaintext-input"}, sinks: []string{"streams-wordcount-output"},
			internalRead: []string{"wordcount-counts-store-repartition"}, internalWritten: []string{"wordcount-counts-store-repartition"},
			stores: []string{"counts-store"},
		}},
		{"order_enricher.txt", "order-enricher", streamsLineage{
			subTopologies: 2, processors: 7,
			sources: []string{"customers"}, sinks: []string{"order-totals"}, patterns: []string{"orders-.*"},
			internalRead:    []string{"order-enricher-KSTREAM-AGGREGATE-STATE-STORE-0000000006-repartition"},
			internalWritten: []string{"order-enricher-KSTREAM-AGGREGATE-STATE-STORE-0000000006-repartition"},
			stores:          []string{"KTABLE-SUPPRESS-STATE-STORE-0000000011", "order-totals-store"},
			globalStores:    []string{"customers-store"},
		}},
		{"legacy_global_stores.txt", "page-views", streamsLineage{
			subTopologies: 1, processors: 2,
			sources: []string{"page-views", "user-profiles"}, sinks: []string{"page-views-clean"},
			globalStores: []string{"user-profiles-store"},
		}},
	}
	for _, c := range cases {
		topo, err := parseTopology(string(readTestdata(t, "topologies/"+c.file)))
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		got := analyse(topo, c.app)
		g, _ := json.Marshal(lineageView(got))
		w, _ := json.Marshal(lineageView(c.want))
		if string(g) != string(w) {
			t.Errorf("%s:\ngot  %s\nwant %s", c.file, g, w)
		}
	}
}

func lineageView(l streamsLineage) map[string]any {
	return map[string]any{"subs": l.subTopologies, "procs": l.processors, "sources": l.sources, "sinks": l.sinks, "patterns": l.patterns,
		"ir": l.internalRead, "iw": l.internalWritten, "stores": l.stores, "global": l.globalStores, "dyn": l.dynamicSinks}
}

func TestParseTopologyVariants(t *testing.T) {
	text := `Topologies:
   Sub-topology: 0
    Source: orders-source (topic pattern: orders\..*)
      --> router
    Processor: router (stores: [])
      --> dynamic-sink
      <-- orders-source
    Sink: dynamic-sink (extractor class: com.acme.streams.RegionRouter@5b2133b1)
      <-- router
`
	topo, err := parseTopology(text)
	if err != nil {
		t.Fatal(err)
	}
	l := analyse(topo, "router-app")
	if strings.Join(l.patterns, ",") != `orders\..*` || strings.Join(l.dynamicSinks, ",") != "com.acme.streams.RegionRouter@5b2133b1" || len(l.sinks) != 0 {
		t.Errorf("lineage = %+v", l)
	}
}

func TestParseTopologyErrors(t *testing.T) {
	wordcount := string(readTestdata(t, "topologies/wordcount.txt"))
	cases := []struct {
		name, text string
		line       int
		want       string
	}{
		{"empty", "", 1, "no sub-topology"},
		{"not a topology", "hello world", 1, "unrecognised line"},
		{"node before sub-topology", "Topologies:\n    Source: S (topics: [a])\n", 2, "outside any sub-topology"},
		{"arrow first", "Topologies:\n   Sub-topology: 0\n      --> X\n", 3, "arrow without a node"},
		{"unclosed list", "Topologies:\n   Sub-topology: 0\n    Source: S (topics: [a, b)\n      --> none\n", 3, "neither a topic list nor a pattern"},
		{"bad topic", "Topologies:\n   Sub-topology: 0\n    Source: S (topics: [a b])\n      --> none\n", 3, "invalid name"},
		{"sink successor", "Topologies:\n   Sub-topology: 0\n    Source: S (topics: [a])\n      --> K\n    Sink: K (topic: b)\n      --> S\n", 6, "cannot have successors"},
		{"source predecessor", "Topologies:\n   Sub-topology: 0\n    Source: S (topics: [a])\n      <-- K\n", 4, "cannot have predecessors"},
		{"processor key", "Topologies:\n   Sub-topology: 0\n    Processor: P (topic: a)\n", 3, "cannot have \"topic\""},
		{"undeclared successor", string(readTestdata(t, "topologies/malformed_arrow.txt")), 6, "KSTREAM-SINK-0000000009"},
		{"duplicate node", wordcount + "  Sub-topology: 2\n    Source: KSTREAM-SOURCE-0000000000 (topics: [x])\n      --> none\n", strings.Count(wordcount, "\n") + 2, "declared twice (first on line 3)"},
		{"disagreeing arrows", strings.Replace(wordcount, "      <-- KSTREAM-FLATMAPVALUES-0000000001\n", "      <-- none\n", 1), 10, "does not list"},
		{"cross sub-topology", strings.Replace(wordcount, "--> KSTREAM-AGGREGATE-0000000003", "--> KSTREAM-FILTER-0000000005", 1), 19, "does not declare"},
		{"empty sub-topology", "Topologies:\n   Sub-topology: 0\n   Sub-topology: 1\n    Source: S (topics: [a])\n      --> none\n", 2, "has no node"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseTopology(c.text)
			te, ok := err.(*topologyError)
			if !ok {
				t.Fatalf("err = %v, want a topologyError", err)
			}
			if te.line != c.line || !strings.Contains(te.msg, c.want) {
				t.Errorf("err = %v, want line %d containing %q", err, c.line, c.want)
			}
		})
	}
}

// A posted topology links its input and output topics to the job the kafka
// crawler infers for the application, resolving a topic pattern against the
// crawled topics; a re-post replaces it.
func TestPostTopology(t *testing.T) {
	e := newEnv(t, nil)
	job := catalog.URN("urn:job:kafka-streams://prod/order-enricher")
	first, _ := json.Marshal(TopologyRequest{ApplicationID: "order-enricher", Cluster: "prod", Topology: string(readTestdata(t, "topologies/order_enricher.txt"))})
	status, m := e.post(TopologiesPath, "application/json; charset=utf-8", first)
	if status != http.StatusCreated || m["job"] != string(job) {
		t.Fatalf("status %d: %v", status, m)
	}
	tp := func(n string) string { return "urn:topic:prod/" + n }
	repart := tp("order-enricher-KSTREAM-AGGREGATE-STATE-STORE-0000000006-repartition")
	want := keys(
		key(tp("orders-eu"), catalog.EdgeConsumes, string(job)),
		key(tp("orders-paid"), catalog.EdgeConsumes, string(job)), // orders-.* matches it too
		key(tp("orders-us"), catalog.EdgeConsumes, string(job)),
		key(tp("customers"), catalog.EdgeConsumes, string(job)),
		key(repart, catalog.EdgeConsumes, string(job)),
		key(string(job), catalog.EdgeProduces, repart),
		key(string(job), catalog.EdgeProduces, tp("order-totals")),
		key(string(job), catalog.EdgeProduces, tp("order-enricher-order-totals-store-changelog")),
		key(string(job), catalog.EdgeProduces, tp("order-enricher-KTABLE-SUPPRESS-STATE-STORE-0000000011-changelog")),
	)
	equalStrings(t, "topology edges", e.edges(job, SourceTopology), want)
	pattern, _ := e.edge(key(tp("orders-eu"), catalog.EdgeConsumes, string(job)))
	literal, _ := e.edge(key(tp("customers"), catalog.EdgeConsumes, string(job)))
	if pattern.Confidence() != confidencePattern || literal.Confidence() != confidenceTopology {
		t.Errorf("confidences: pattern %v, literal %v", pattern.Confidence(), literal.Confidence())
	}
	// One JOB, asserted by the kafka crawler and the topology.
	ent, _ := e.entity(job)
	if strings.Join(ent.Sources, ",") != "prod,topology" || ent.Properties["subTopologies"] != json.Number("2") {
		t.Errorf("job = %+v", ent)
	}
	// The changelog link the crawler inferred now has two claims.
	changelog, _ := e.edge(key(string(job), catalog.EdgeProduces, tp("order-enricher-order-totals-store-changelog")))
	if len(changelog.Claims) != 2 {
		t.Errorf("changelog claims = %+v", changelog.Claims)
	}

	// Re-post without the suppression: its changelog link goes.
	smaller := strings.NewReplacer(
		"      --> KTABLE-SUPPRESS-0000000010\n      <-- KSTREAM-SOURCE-0000000009\n    Processor: KTABLE-SUPPRESS-0000000010 (stores: [KTABLE-SUPPRESS-STATE-STORE-0000000011])\n      --> KTABLE-TOSTREAM-0000000012\n      <-- KSTREAM-AGGREGATE-0000000006\n",
		"      --> KTABLE-TOSTREAM-0000000012\n      <-- KSTREAM-SOURCE-0000000009\n",
		"      <-- KTABLE-SUPPRESS-0000000010\n", "      <-- KSTREAM-AGGREGATE-0000000006\n",
	).Replace(string(readTestdata(t, "topologies/order_enricher.txt")))
	body, _ := json.Marshal(TopologyRequest{ApplicationID: "order-enricher", Cluster: "prod", Topology: smaller})
	status, m = e.post(TopologiesPath, "application/json", body)
	if status != http.StatusCreated || m["edgesRemoved"] != float64(1) {
		t.Fatalf("re-post: %d %v", status, m)
	}
	suppress := key(string(job), catalog.EdgeProduces, tp("order-enricher-KTABLE-SUPPRESS-STATE-STORE-0000000011-changelog"))
	if ed, _ := e.edge(suppress); !ed.Deleted() {
		t.Errorf("%s not removed", suppress)
	}

	// Another application is its own scope.
	body, _ = json.Marshal(TopologyRequest{ApplicationID: "wordcount", Cluster: "prod", Topology: string(readTestdata(t, "topologies/wordcount.txt"))})
	if status, m := e.post(TopologiesPath, "application/json", body); status != http.StatusCreated {
		t.Fatalf("wordcount: %d %v", status, m)
	}
	if got := e.edges(job, SourceTopology); len(got) != len(want)-1 {
		t.Errorf("order-enricher edges after another app's post = %v", got)
	}
}

func TestPostTopologyRejected(t *testing.T) {
	e := newEnv(t, nil)
	before := e.lastSeq()
	wordcount := string(readTestdata(t, "topologies/wordcount.txt"))
	req := func(app, cluster, text string) string {
		b, _ := json.Marshal(TopologyRequest{ApplicationID: app, Cluster: cluster, Topology: text})
		return string(b)
	}
	cases := []struct {
		name, path, ct string
		body           string
		status         int
		want           string
		line           float64
	}{
		{"malformed", TopologiesPath, "application/json", req("wc", "prod", string(readTestdata(t, "topologies/malformed_arrow.txt"))), 400, "malformed topology: line 6:", 6},
		{"unknown cluster", TopologiesPath, "application/json", req("wc", "staging", wordcount), 400, `unknown cluster "staging"`, 0},
		{"no application id", TopologiesPath, "application/json", req("", "prod", wordcount), 400, "applicationId", 0},
		{"bad json", TopologiesPath, "application/json", `{"applicationId": "wc", "cluster": "prod", "topo": "x"}`, 400, "unknown field", 0},
		{"two values", TopologiesPath, "application/json", req("wc", "prod", wordcount) + req("wc", "prod", wordcount), 400, "more than one JSON value", 0},
		{"content type", TopologiesPath, "application/xml", "<topology/>", 415, "not supported", 0},
		// The raw text is a CORS simple request a web page could send: refused.
		{"text/plain", TopologiesPath + "?applicationId=wc&cluster=prod", "text/plain", wordcount, 415, "send application/json", 0},
		{"no content type", TopologiesPath, "", req("wc", "prod", wordcount), 415, "Content-Type is missing", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, m := e.post(c.path, c.ct, []byte(c.body))
			msg, _ := m["error"].(string)
			if status != c.status || !strings.Contains(msg, c.want) {
				t.Errorf("status %d, error %q; want %d containing %q", status, msg, c.status, c.want)
			}
			if c.line != 0 && m["line"] != c.line {
				t.Errorf("line = %v, want %v", m["line"], c.line)
			}
		})
	}
	if got := e.lastSeq(); got != before {
		t.Errorf("LastSeq %d → %d: a rejected topology wrote", before, got)
	}
}

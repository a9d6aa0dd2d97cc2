package openlineage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// Confidence of the links a topology asserts: what the topology names is
// certain; a topic pattern resolved against the topics crawled at the time
// of the post is what the connect crawler also rates 0.7.
const (
	confidenceTopology = 1.0
	confidencePattern  = 0.7
)

// TopologyRequest is the JSON body of POST /api/v1/topologies.
type TopologyRequest struct {
	// ApplicationID is the application's application.id.
	ApplicationID string `json:"applicationId"`
	// Cluster is the configured name of the Kafka source it runs against.
	Cluster string `json:"cluster"`
	// Topology is the text of Topology#describe().
	Topology string `json:"topology"`
}

// TopologySummary is the body of a 201 answer to POST /api/v1/topologies.
type TopologySummary struct {
	Job string `json:"job"`
	// SourceTopics and SinkTopics are the external topics read and written
	// (pattern matches included in SourceTopics).
	SourceTopics []string `json:"sourceTopics"`
	SinkTopics   []string `json:"sinkTopics"`
	// InternalTopics are the repartition, foreign-key-join and changelog
	// topics, with the application id prefix.
	InternalTopics []string `json:"internalTopics"`
	// UnresolvedPatterns are topic patterns that matched no crawled topic
	// or that Go's regexp cannot evaluate (with the reason).
	UnresolvedPatterns []string `json:"unresolvedPatterns,omitempty"`
	// DynamicSinks are the TopicNameExtractor classes whose topics cannot be
	// known from the topology.
	DynamicSinks []string `json:"dynamicSinks,omitempty"`
	EdgesAdded   int      `json:"edgesAdded"`
	EdgesRemoved int      `json:"edgesRemoved"`
	EdgesUpdated int      `json:"edgesUpdated"`
	Changes      int      `json:"changes"`
}

func (s *Service) serveTopology(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	req, err := decodeTopologyRequest(body)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !validStreamsName(req.ApplicationID) {
		s.writeError(w, http.StatusBadRequest, fmt.Sprintf("applicationId %q is not a valid application.id (1 to 249 ASCII letters, digits, '.', '_' and '-')", req.ApplicationID))
		return
	}
	if req.Cluster == "" {
		s.writeError(w, http.StatusBadRequest, "cluster is required: the configured name of the Kafka source the application runs against")
		return
	}
	if s.known == nil || !s.known(req.Cluster) {
		s.writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown cluster %q: no Kafka source of that name is configured", req.Cluster))
		return
	}
	topo, err := parseTopology(req.Topology)
	if err != nil {
		var te *topologyError
		if errors.As(err, &te) {
			s.writeJSON(w, http.StatusBadRequest, errorBody{Error: "malformed topology: " + te.Error(), Line: te.line})
			return
		}
		s.writeError(w, http.StatusBadRequest, "malformed topology: "+err.Error())
		return
	}
	unlock := s.apps.lock(req.Cluster + "/" + req.ApplicationID)
	defer unlock()
	sum, err := s.recordTopology(r.Context(), req.Cluster, req.ApplicationID, topo)
	if err != nil {
		s.writeStoreError(w, "record topology", err)
		return
	}
	s.writeJSON(w, http.StatusCreated, sum)
}

// decodeTopologyRequest reads the JSON body (Handler has checked the
// content type).
func decodeTopologyRequest(body []byte) (TopologyRequest, error) {
	var req TopologyRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("request body is not a topology request (applicationId, cluster, topology): %w", err)
	}
	if dec.More() {
		return req, errors.New("request body holds more than one JSON value: send one topology request")
	}
	return req, nil
}

// streamsLineage is what a topology says about data flow.
type streamsLineage struct {
	subTopologies, processors int
	sources, sinks            []string // external topics
	patterns                  []string
	internalRead              []string // prefixed
	internalWritten           []string // prefixed
	stores, globalStores      []string
	dynamicSinks              []string
}

// isInternalTopic reports whether a topic named in a topology is one Kafka
// Streams creates and prefixes with the application id: repartition topics
// (generated KSTREAM-…-repartition or user-named …-repartition) and the
// subscription topics of foreign-key joins.
func isInternalTopic(name string) bool {
	if strings.HasSuffix(name, "-repartition") {
		return true
	}
	lower := strings.ToLower(name)
	return strings.HasSuffix(lower, "-topic") && (strings.Contains(lower, "-subscription-registration") || strings.Contains(lower, "-subscription-response"))
}

// internalName is the real name of an internal topic: <application.id>-<name>
// (unless the text already carried the prefix).
func internalName(appID, name string) string {
	if strings.HasPrefix(name, appID+"-") {
		return name
	}
	return appID + "-" + name
}

// analyse turns a parsed topology into topics and stores. Every store of a
// regular sub-topology is assumed logged (describe() cannot tell an
// in-memory or unlogged store apart), so it has the changelog topic
// <application.id>-<store>-changelog; a global store's changelog is its
// source topic.
func analyse(t *topology, appID string) streamsLineage {
	var l streamsLineage
	sets := map[*[]string]map[string]bool{}
	add := func(list *[]string, v string) {
		m := sets[list]
		if m == nil {
			m = map[string]bool{}
			sets[list] = m
		}
		if !m[v] {
			m[v] = true
			*list = append(*list, v)
		}
	}
	for _, sub := range t.subs {
		if !sub.global {
			l.subTopologies++
		}
		for _, nd := range sub.nodes {
			switch nd.kind {
			case nodeSource:
				for _, tp := range nd.topics {
					if isInternalTopic(tp) {
						add(&l.internalRead, internalName(appID, tp))
					} else {
						add(&l.sources, tp)
					}
				}
				if nd.pattern != "" {
					add(&l.patterns, nd.pattern)
				}
			case nodeProcessor:
				l.processors++
				for _, st := range nd.stores {
					if sub.global {
						add(&l.globalStores, st)
					} else {
						add(&l.stores, st)
					}
				}
			case nodeSink:
				switch {
				case nd.extractor != "":
					add(&l.dynamicSinks, nd.extractor)
				case isInternalTopic(nd.topic):
					add(&l.internalWritten, internalName(appID, nd.topic))
				default:
					add(&l.sinks, nd.topic)
				}
			}
		}
	}
	for _, list := range []*[]string{&l.sources, &l.sinks, &l.patterns, &l.internalRead, &l.internalWritten, &l.stores, &l.globalStores, &l.dynamicSinks} {
		sort.Strings(*list)
	}
	return l
}

// recordTopology reconciles the application's scope of the topology source:
// its JOB (the URN the kafka crawler infers for the application) and links.
func (s *Service) recordTopology(ctx context.Context, cluster, appID string, t *topology) (TopologySummary, error) {
	l := analyse(t, appID)
	job := catalog.StreamsJobURN(cluster, appID)
	scope := AppScope(cluster, appID)
	sum := TopologySummary{Job: string(job), SourceTopics: []string{}, SinkTopics: l.sinks, InternalTopics: []string{}, DynamicSinks: l.dynamicSinks}
	if sum.SinkTopics == nil {
		sum.SinkTopics = []string{}
	}

	type linkKey struct {
		from catalog.URN
		kind catalog.EdgeKind
		to   catalog.URN
	}
	links := map[linkKey]float64{}
	link := func(from catalog.URN, kind catalog.EdgeKind, to catalog.URN, conf float64) {
		k := linkKey{from, kind, to}
		if conf > links[k] {
			links[k] = conf
		}
	}
	sourceSet := map[string]bool{}
	for _, tp := range l.sources {
		link(catalog.TopicURN(cluster, tp), catalog.EdgeConsumes, job, confidenceTopology)
		sourceSet[tp] = true
	}
	if len(l.patterns) > 0 {
		topics, err := s.clusterTopics(ctx, cluster)
		if err != nil {
			return sum, err
		}
		for _, p := range l.patterns {
			re, err := regexp.Compile(`^(?:` + p + `)$`)
			if err != nil {
				sum.UnresolvedPatterns = append(sum.UnresolvedPatterns, fmt.Sprintf("%s: Go's regexp cannot evaluate it: %v", p, err))
				continue
			}
			matched := 0
			for _, tp := range topics {
				if re.MatchString(tp) {
					matched++
					link(catalog.TopicURN(cluster, tp), catalog.EdgeConsumes, job, confidencePattern)
					sourceSet[tp] = true
				}
			}
			if matched == 0 {
				sum.UnresolvedPatterns = append(sum.UnresolvedPatterns, p+": matches no crawled topic of "+cluster)
			}
		}
	}
	for tp := range sourceSet {
		sum.SourceTopics = append(sum.SourceTopics, tp)
	}
	sort.Strings(sum.SourceTopics)
	for _, tp := range l.sinks {
		link(job, catalog.EdgeProduces, catalog.TopicURN(cluster, tp), confidenceTopology)
	}
	internal := map[string]bool{}
	for _, tp := range l.internalWritten {
		link(job, catalog.EdgeProduces, catalog.TopicURN(cluster, tp), confidenceTopology)
		internal[tp] = true
	}
	for _, tp := range l.internalRead {
		link(catalog.TopicURN(cluster, tp), catalog.EdgeConsumes, job, confidenceTopology)
		internal[tp] = true
	}
	for _, st := range l.stores {
		tp := appID + "-" + st + "-changelog"
		link(job, catalog.EdgeProduces, catalog.TopicURN(cluster, tp), confidenceTopology)
		internal[tp] = true
	}
	for tp := range internal {
		sum.InternalTopics = append(sum.InternalTopics, tp)
	}
	sort.Strings(sum.InternalTopics)

	props := catalog.Properties{
		"framework":     "kafka-streams",
		"applicationId": appID,
		"cluster":       cluster,
		"subTopologies": l.subTopologies,
		"processors":    l.processors,
	}
	for k, v := range map[string][]string{
		"stores": l.stores, "globalStores": l.globalStores, "sourceTopics": sum.SourceTopics,
		"sinkTopics": l.sinks, "topicPatterns": l.patterns, "internalTopics": sum.InternalTopics,
		"dynamicSinks": l.dynamicSinks, "unresolvedPatterns": sum.UnresolvedPatterns,
	} {
		if len(v) > 0 {
			props[k] = anyList(v)
		}
	}
	snap := catalog.Snapshot{
		Source: SourceTopology,
		At:     s.now().UTC(),
		Scopes: []string{scope},
		Assets: []catalog.Asset{{URN: job, Name: appID, Properties: props, Scope: scope}},
	}
	keys := make([]linkKey, 0, len(links))
	for k := range links {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].from != keys[j].from {
			return keys[i].from < keys[j].from
		}
		if keys[i].kind != keys[j].kind {
			return keys[i].kind < keys[j].kind
		}
		return keys[i].to < keys[j].to
	})
	for _, k := range keys {
		snap.Links = append(snap.Links, catalog.Link{From: k.from, Kind: k.kind, To: k.to, Origin: OriginTopology, Confidence: links[k], Scope: scope})
	}
	res, err := s.store.Reconcile(ctx, snap, nil)
	if err != nil {
		return sum, fmt.Errorf("reconcile %s: %w", SourceTopology, err)
	}
	sum.EdgesAdded, sum.EdgesRemoved, sum.EdgesUpdated, sum.Changes = res.EdgesAdded, res.EdgesRemoved, res.EdgesUpdated, res.Changes
	s.log.Info("recorded topology", "job", job, "sources", len(sum.SourceTopics), "sinks", len(l.sinks), "internal", len(sum.InternalTopics))
	return sum, nil
}

// clusterTopics lists the topics the catalog holds for cluster: the TOPIC
// entities its cluster CONTAINS.
func (s *Service) clusterTopics(ctx context.Context, cluster string) ([]string, error) {
	edges, err := s.cat.Edges(ctx, catalog.EdgeQuery{URN: catalog.KafkaClusterURN(cluster), Direction: catalog.Downstream, Kinds: []catalog.EdgeKind{catalog.EdgeContains}})
	if err != nil {
		return nil, fmt.Errorf("list topics of %s: %w", cluster, err)
	}
	prefix := string(catalog.TopicURN(cluster, ""))
	var out []string
	for _, e := range edges {
		if e.Deleted() || e.To.Kind() != catalog.KindTopic {
			continue
		}
		if name, ok := strings.CutPrefix(string(e.To), prefix); ok && name != "" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

func anyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

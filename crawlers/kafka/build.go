package kafka

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/watershed-data/watershed/catalog"
)

// Claim origins of the links this crawler asserts.
const (
	// OriginMetadata marks structural links read from cluster metadata.
	OriginMetadata = "metadata"
	// OriginConsumerOffsets marks CONSUMES links backed by committed offsets.
	OriginConsumerOffsets = "consumer-offsets"
	// OriginAssignment marks CONSUMES links backed only by a live partition
	// assignment: the group reads the topic but has committed nothing yet.
	OriginAssignment = "assignment"
	// OriginACL marks CAN_READ and CAN_WRITE links derived from ACLs.
	OriginACL = "acl"
	// OriginStreamsNaming marks links inferred from Kafka Streams' naming of
	// internal topics.
	OriginStreamsNaming = "streams-naming"
)

// Link confidences below 1.
const (
	// ConfidenceAssignment is the confidence of an assignment-only CONSUMES
	// link: a member holds the partitions, but nothing proves it reads them.
	ConfidenceAssignment = 0.7
	// ConfidenceStreamsNaming is the confidence of links inferred from
	// Streams' internal topic names.
	ConfidenceStreamsNaming = 0.8
)

// Scopes of a Kafka snapshot.
const (
	ScopeBrokers = "brokers"
	ScopeACLs    = "acls"
)

// TopicScope is the snapshot scope of topic's asset and its CONTAINS link.
func TopicScope(topic string) string { return "topic/" + topic }

// GroupScope is the snapshot scope of a consumer group and its CONSUMES links.
func GroupScope(group string) string { return "group/" + group }

// StreamsScope is the snapshot scope of a Kafka Streams application's job
// and its links.
func StreamsScope(appID string) string { return "streams/" + appID }

// maxProblems bounds how many problems an incomplete reason spells out.
const maxProblems = 5

type builder struct {
	source string
	snap   catalog.Snapshot
	links  map[catalog.EdgeKey]int // index into snap.Links
}

func (b *builder) asset(a catalog.Asset) { b.snap.Assets = append(b.snap.Assets, a) }

// link adds l unless a link with the same key exists; a second claim with a
// higher confidence replaces the first.
func (b *builder) link(l catalog.Link) {
	if i, ok := b.links[l.Key()]; ok {
		if l.Confidence > b.snap.Links[i].Confidence {
			b.snap.Links[i] = l
		}
		return
	}
	b.links[l.Key()] = len(b.snap.Links)
	b.snap.Links = append(b.snap.Links, l)
}

func (b *builder) incomplete(scope, reason string) {
	if b.snap.Incomplete == nil {
		b.snap.Incomplete = map[string]string{}
	}
	if prev, ok := b.snap.Incomplete[scope]; ok {
		reason = prev + "; " + reason
	}
	b.snap.Incomplete[scope] = reason
}

// build turns an observation into a snapshot. It does no I/O.
func (c *crawler) build(o *observation) catalog.Snapshot {
	b := &builder{source: c.source, links: make(map[catalog.EdgeKey]int, 2*len(o.topics)+2*len(o.groups))}
	b.snap.Assets = make([]catalog.Asset, 0, 1+len(o.brokers)+len(o.topics)+len(o.groups))
	b.cluster(o, c.cfg)
	b.topics(o)
	consumed := b.groups(o)
	b.acls(o)
	b.streams(o, consumed)
	slices.SortFunc(b.snap.Assets, func(x, y catalog.Asset) int { return strings.Compare(string(x.URN), string(y.URN)) })
	slices.SortFunc(b.snap.Links, func(x, y catalog.Link) int {
		if c := strings.Compare(string(x.From), string(y.From)); c != 0 {
			return c
		}
		if c := strings.Compare(string(x.Kind), string(y.Kind)); c != 0 {
			return c
		}
		return strings.Compare(string(x.To), string(y.To))
	})
	return b.snap
}

func stringList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func (b *builder) cluster(o *observation, cfg Config) {
	cluster := ClusterURN(b.source)
	props := catalog.Properties{
		"clusterId":   o.clusterID,
		"bootstrap":   stringList(cfg.Bootstrap),
		"brokerCount": len(o.brokers),
	}
	if len(cfg.Aliases) > 0 {
		props["aliases"] = stringList(cfg.Aliases)
	}
	b.asset(catalog.Asset{
		URN:        cluster,
		Name:       b.source,
		Properties: props,
		// KRaft brokers answer a random live broker as the "controller"
		// to clients, so the reading moves between crawls: Live.
		Live: catalog.Properties{"controller": o.controller},
	})
	if o.brokersErr != nil {
		b.incomplete(ScopeBrokers, fmt.Sprintf("describe cluster: %v; brokers listed from metadata, which omits brokers that are down", o.brokersErr))
	}
	for _, br := range o.brokers {
		props := catalog.Properties{"nodeId": br.id, "host": br.host, "port": br.port}
		if br.rack != nil {
			props["rack"] = *br.rack
		}
		u := BrokerURN(b.source, br.id)
		b.asset(catalog.Asset{
			URN:        u,
			Name:       br.host + ":" + strconv.Itoa(int(br.port)),
			Properties: props,
			Live:       catalog.Properties{"fenced": br.fenced, "controller": br.id == o.controller},
			Scope:      ScopeBrokers,
		})
		b.link(catalog.Link{From: cluster, Kind: catalog.EdgeContains, To: u, Origin: OriginMetadata, Confidence: 1, Scope: ScopeBrokers})
	}
}

// problems collects the reasons a scope is incomplete, spelling out at most
// maxProblems of them.
type problems struct {
	list []string
	n    int
}

func (p *problems) add(format string, args ...any) {
	p.n++
	if len(p.list) < maxProblems {
		p.list = append(p.list, fmt.Sprintf(format, args...))
	}
}

func (p *problems) String() string {
	s := strings.Join(p.list, "; ")
	if more := p.n - len(p.list); more > 0 {
		s += fmt.Sprintf("; and %d more", more)
	}
	return s
}

func (b *builder) topics(o *observation) {
	cluster := ClusterURN(b.source)
	for _, t := range o.topics {
		scope := TopicScope(t.name)
		if t.err != nil {
			b.incomplete(scope, fmt.Sprintf("describe topic: %v", t.err))
			continue
		}
		cfg, ok := o.configs[t.name]
		if !ok {
			cfg.err = errors.New("no answer")
		}
		if cfg.err != nil {
			// Without its configs the topic's properties are unknown;
			// asserting it without them would record a false change.
			b.incomplete(scope, fmt.Sprintf("describe configs: %v", cfg.err))
			continue
		}
		var probs problems
		starts, ends := o.startOffsets[t.name], o.endOffsets[t.name]
		parts := make([]livePartition, len(t.partitions))
		offsets := make([]int64, 2*len(t.partitions)) // backs the pointers in parts
		var underReplicated, offline int
		var messages int64
		var rfs replicaCounts
		for i, p := range t.partitions {
			lp := &parts[i]
			*lp = livePartition{Partition: p.id, Leader: p.leader, Replicas: nodes(p.replicas), ISR: nodes(p.isr), OfflineReplicas: p.offline}
			rfs.add(len(p.replicas))
			switch {
			case p.err != nil:
				offline++
				lp.Error = p.err.Error()
				probs.add("partition %d: %v", p.id, p.err)
			case p.leader < 0:
				offline++
				probs.add("partition %d has no leader", p.id)
			default:
				if len(p.isr) < len(p.replicas) {
					underReplicated++
				}
				start, sok := starts[p.id]
				end, eok := ends[p.id]
				switch {
				case !sok || !eok:
					probs.add("partition %d: offsets not listed", p.id)
				case start.err != nil:
					probs.add("partition %d: list earliest offset: %v", p.id, start.err)
				case end.err != nil:
					probs.add("partition %d: list latest offset: %v", p.id, end.err)
				default:
					offsets[2*i], offsets[2*i+1] = start.offset, end.offset
					lp.LogStartOffset, lp.HighWatermark = &offsets[2*i], &offsets[2*i+1]
					if end.offset > start.offset {
						messages += end.offset - start.offset
					}
				}
			}
		}
		if probs.n > 0 {
			b.incomplete(scope, probs.String())
		}
		rf := rfs.mode()
		if rf == 0 {
			// No partition named its replicas: the replication factor is
			// unknown, and asserting the topic without it would record a
			// false change. The scope is incomplete already.
			continue
		}
		props := catalog.Properties{
			"partitions":        len(t.partitions),
			"replicationFactor": rf,
			"internal":          t.internal,
			"configs":           cfg.configs,
		}
		u := TopicURN(b.source, t.name)
		b.asset(catalog.Asset{
			URN:        u,
			Name:       t.name,
			Properties: props,
			Live: catalog.Properties{
				"partitions":                parts,
				"underReplicatedPartitions": underReplicated,
				"offlinePartitions":         offline,
				"messageCountEstimate":      messages,
			},
			Scope: scope,
		})
		b.link(catalog.Link{From: cluster, Kind: catalog.EdgeContains, To: u, Origin: OriginMetadata, Confidence: 1, Scope: scope})
	}
}

// livePartition is a partition's reading in a topic's Live "partitions".
type livePartition struct {
	Partition       int32   `json:"partition"`
	Leader          int32   `json:"leader"`
	Replicas        []int32 `json:"replicas"`
	ISR             []int32 `json:"isr"`
	OfflineReplicas []int32 `json:"offlineReplicas,omitempty"`
	LogStartOffset  *int64  `json:"logStartOffset,omitempty"`
	HighWatermark   *int64  `json:"highWatermark,omitempty"`
	Error           string  `json:"error,omitempty"`
}

// liveMember is a group member in a group's Live "members".
type liveMember struct {
	MemberID             string           `json:"memberId"`
	InstanceID           *string          `json:"instanceId,omitempty"`
	ClientID             string           `json:"clientId"`
	Host                 string           `json:"host"`
	Rack                 *string          `json:"rack,omitempty"`
	SubscribedTopics     []string         `json:"subscribedTopics,omitempty"`
	SubscribedTopicRegex string           `json:"subscribedTopicRegex,omitempty"`
	Assignment           []liveAssignment `json:"assignment"`
}

type liveAssignment struct {
	Topic      string  `json:"topic"`
	Partitions []int32 `json:"partitions"`
}

// liveOffset is a committed offset in a group's Live "offsets"; End and Lag
// are absent when the partition's latest offset is unknown.
type liveOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"`
	End       *int64 `json:"end,omitempty"`
	Lag       *int64 `json:"lag,omitempty"`
}

// nodes returns ids, or an empty list for nil, so Live shows [] not null.
func nodes(ids []int32) []int32 {
	if ids == nil {
		return []int32{}
	}
	return ids
}

// replicaCounts counts partitions per replica count, to find the topic's
// replication factor: the count most partitions have, so a reassignment in
// flight (which adds replicas to a few partitions for a while) does not
// change it.
type replicaCounts struct{ counts []struct{ rf, n int } }

func (r *replicaCounts) add(rf int) {
	if rf == 0 {
		return // a partition in error lists no replicas
	}
	for i := range r.counts {
		if r.counts[i].rf == rf {
			r.counts[i].n++
			return
		}
	}
	r.counts = append(r.counts, struct{ rf, n int }{rf, 1})
}

// mode returns the most frequent replica count (the larger on a tie), 0 for
// none.
func (r *replicaCounts) mode() int {
	best, bestN := 0, 0
	for _, c := range r.counts {
		if c.n > bestN || (c.n == bestN && c.rf > best) {
			best, bestN = c.rf, c.n
		}
	}
	return best
}

// consumption is one topic a group reads, and how the crawler knows.
type consumption struct {
	topic      string
	origin     string
	confidence float64
}

// groups adds the consumer groups and their CONSUMES links, and returns what
// each described group consumes (for the Streams inference).
func (b *builder) groups(o *observation) map[string][]consumption {
	out := make(map[string][]consumption, len(o.groups))
	for _, g := range o.groups {
		scope := GroupScope(g.name)
		if g.describeErr != nil {
			b.incomplete(scope, fmt.Sprintf("describe group: %v", g.describeErr))
			continue
		}
		if !g.described {
			continue // deleted between listing and describing
		}
		u := GroupURN(b.source, g.name)

		groupType := g.groupType
		if groupType == "" {
			groupType = "classic"
		}
		props := catalog.Properties{"groupType": groupType, "protocolType": g.protocolType}
		live := catalog.Properties{"state": g.state, "coordinator": g.coordinator}
		if isConsumerProtocolGroup(g) {
			// A KIP-848 group's protocol type is "consumer" by definition;
			// some brokers (kfake) list it empty.
			props["protocolType"] = "consumer"
			props["assignor"] = g.assignor
			live["groupEpoch"] = g.epoch
			live["assignmentEpoch"] = g.assignEpoch
		} else if g.protocol != "" {
			// Kafka forgets a classic group's protocol while it has no
			// members, so it is a reading, not a property.
			live["protocol"] = g.protocol
		}

		// Members, with assignments resolved to catalogued topic names.
		assigned := map[string]bool{}
		members := make([]liveMember, 0, len(g.members))
		slices.SortFunc(g.members, func(x, y memberInfo) int { return strings.Compare(x.memberID, y.memberID) })
		for _, m := range g.members {
			lm := liveMember{MemberID: m.memberID, InstanceID: m.instanceID, ClientID: m.clientID, Host: m.host, Rack: m.rack}
			if len(m.subscribed) > 0 {
				lm.SubscribedTopics = slices.Sorted(slices.Values(m.subscribed))
			}
			if m.subscribedRegex != nil {
				lm.SubscribedTopicRegex = *m.subscribedRegex
			}
			resolved := make(map[string][]int32, len(m.assigned))
			for key, ps := range m.assigned {
				name := key
				if id, ok := topicIDFromKey(key); ok {
					if name, ok = o.idNames[id]; !ok {
						continue // the topic was deleted meanwhile
					}
				}
				if _, known := o.byName[name]; known {
					resolved[name] = append(resolved[name], ps...)
				}
			}
			lm.Assignment = make([]liveAssignment, 0, len(resolved))
			for _, t := range slices.Sorted(maps.Keys(resolved)) {
				ps := resolved[t]
				slices.Sort(ps)
				lm.Assignment = append(lm.Assignment, liveAssignment{Topic: t, Partitions: ps})
				assigned[t] = true
			}
			members = append(members, lm)
		}
		live["members"] = members

		// Committed offsets and lag, on catalogued topics.
		var probs problems
		committedTopics := map[string]bool{}
		offsets := []liveOffset{}
		var totalLag int64
		fetched, ok := o.committed[g.name]
		switch {
		case !ok:
			b.incomplete(scope, "fetch committed offsets: no answer")
		case fetched.Err != nil && !errors.Is(fetched.Err, kerr.GroupIDNotFound):
			b.incomplete(scope, fmt.Sprintf("fetch committed offsets: %v", fetched.Err))
		default:
			topics := make([]string, 0, len(fetched.Fetched))
			for t := range fetched.Fetched {
				if _, known := o.byName[t]; known {
					topics = append(topics, t)
				}
			}
			slices.Sort(topics)
			for _, t := range topics {
				ps := fetched.Fetched[t]
				ids := make([]int32, 0, len(ps))
				for p := range ps {
					ids = append(ids, p)
				}
				slices.Sort(ids)
				ends := o.endOffsets[t]
				for _, p := range ids {
					r := ps[p]
					if r.Err != nil {
						// Without it the topic's CONSUMES link could vanish.
						probs.add("fetch committed offset of %s/%d: %v", t, p, r.Err)
						continue
					}
					if r.At < 0 {
						continue
					}
					committedTopics[t] = true
					lo := liveOffset{Topic: t, Partition: p, Committed: r.At}
					if end, ok := ends[p]; ok && end.err == nil {
						lag := max(end.offset-r.At, 0)
						lo.End, lo.Lag = &end.offset, &lag
						totalLag += lag
					}
					offsets = append(offsets, lo)
				}
			}
		}
		if probs.n > 0 {
			b.incomplete(scope, probs.String())
		}
		live["offsets"] = offsets
		live["totalLag"] = totalLag

		b.asset(catalog.Asset{URN: u, Name: g.name, Properties: props, Live: live, Scope: scope})

		var cons []consumption
		for t := range committedTopics {
			cons = append(cons, consumption{topic: t, origin: OriginConsumerOffsets, confidence: 1})
		}
		for t := range assigned {
			if !committedTopics[t] {
				cons = append(cons, consumption{topic: t, origin: OriginAssignment, confidence: ConfidenceAssignment})
			}
		}
		slices.SortFunc(cons, func(x, y consumption) int { return strings.Compare(x.topic, y.topic) })
		for _, c := range cons {
			b.link(catalog.Link{From: TopicURN(b.source, c.topic), Kind: catalog.EdgeConsumes, To: u, Origin: c.origin, Confidence: c.confidence, Scope: scope})
		}
		out[g.name] = cons
	}
	return out
}

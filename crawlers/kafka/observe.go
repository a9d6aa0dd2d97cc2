package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file gathers what the cluster says into an observation; build.go
// turns an observation into a snapshot. Every request is batched (one
// request per broker for the whole cluster, never one per topic or group),
// and independent requests run concurrently:
//
//	Metadata ─┬─ DescribeConfigs (chunks in parallel)
//	          ├─ ListOffsets earliest
//	          └─ ListOffsets latest
//	ListGroups ─┬─ DescribeGroups (classic)
//	            ├─ ConsumerGroupDescribe (KIP-848)
//	            └─ OffsetFetch (all groups, multi-group requests)
//	DescribeCluster
//	DescribeACLs
//
// kadm's batch helpers for configs, offsets and group descriptions turn a
// single authorization error into an error for the whole shard; the crawler
// needs the opposite (one topic or group it may not see is one incomplete
// scope), so those requests are issued with kmsg through kgo's sharding,
// which is what kadm does underneath.

// observation is everything one crawl read from the cluster.
type observation struct {
	clusterID  string
	controller int32
	brokers    []brokerInfo
	// brokersErr is set when DescribeCluster failed and the brokers come
	// from metadata, which lists live brokers only.
	brokersErr error
	// What the metadata response said, the fallback for DescribeCluster.
	metaBrokers    []brokerInfo
	metaClusterID  string
	metaController int32

	topics  []*topicInfo // included topics, sorted by name
	byName  map[string]*topicInfo
	idNames map[[16]byte]string // every topic id in metadata, included or not

	configs      map[string]configResult
	startOffsets offsetResults
	endOffsets   offsetResults

	groups    []*groupInfo // sorted by name
	committed kadm.FetchOffsetsResponses

	acls    []kadm.DescribedACL
	aclsErr error
}

type brokerInfo struct {
	id     int32
	host   string
	port   int32
	rack   *string
	fenced bool
}

type topicInfo struct {
	name       string
	internal   bool
	err        error // topic-level metadata error
	partitions []partitionInfo
}

type partitionInfo struct {
	id       int32
	leader   int32
	replicas []int32
	isr      []int32
	offline  []int32
	err      error
}

type configResult struct {
	configs map[string]any
	err     error
}

type offsetResult struct {
	offset int64
	err    error
}

// offsetResults is keyed by topic, then partition.
type offsetResults map[string]map[int32]offsetResult

type groupInfo struct {
	name         string
	groupType    string // "classic" or "consumer"; "" when the broker does not say
	protocolType string

	described   bool
	describeErr error
	state       string
	coordinator int32
	protocol    string // classic: the chosen assignor; known while members exist
	assignor    string // KIP-848: the server-side assignor
	epoch       int32
	assignEpoch int32
	members     []memberInfo
}

type memberInfo struct {
	memberID   string
	instanceID *string
	clientID   string
	host       string
	rack       *string
	// assigned maps topics to partitions. A KIP-848 assignment that names
	// a topic by id only is keyed by topicIDKey; build resolves it against
	// the crawl's metadata.
	assigned        map[string][]int32
	subscribed      []string
	subscribedRegex *string
}

// observe reads the cluster. It fails only when the cluster cannot be read
// at all: metadata or the group listing failed.
func (c *crawler) observe(ctx context.Context, cl *kgo.Client) (*observation, error) {
	o := &observation{controller: -1}
	// The first fatal failure cancels the other requests.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg        sync.WaitGroup
		fatalOnce sync.Once
		fatal     error
	)
	fail := func(err error) {
		fatalOnce.Do(func() {
			fatal = err
			cancel()
		})
	}
	start := time.Now()
	timed := func(step string, fn func()) func() {
		return func() {
			fn()
			c.log.Debug("crawl step done", "step", step, "at", time.Since(start))
		}
	}
	wg.Go(timed("describe cluster", func() { c.describeCluster(ctx, cl, o) }))
	wg.Go(timed("describe acls", func() { c.describeACLs(ctx, cl, o) }))
	wg.Go(func() {
		var err error
		timed("metadata", func() { err = c.describeTopics(ctx, cl, o) })()
		if err != nil {
			fail(fmt.Errorf("describe topics: %w", err))
			return
		}
		var inner sync.WaitGroup
		inner.Go(timed("describe configs", func() { o.configs = c.describeConfigs(ctx, cl, o.topics) }))
		inner.Go(timed("list earliest offsets", func() { o.startOffsets = c.listOffsets(ctx, cl, o.topics, -2) }))
		inner.Go(timed("list latest offsets", func() { o.endOffsets = c.listOffsets(ctx, cl, o.topics, -1) }))
		inner.Wait()
	})
	wg.Go(func() {
		var err error
		timed("list groups", func() { err = c.listGroups(ctx, cl, o) })()
		if err != nil {
			fail(fmt.Errorf("list consumer groups: %w", err))
			return
		}
		var inner sync.WaitGroup
		inner.Go(timed("describe classic groups", func() { c.describeClassicGroups(ctx, cl, o.groups) }))
		inner.Go(timed("describe consumer groups", func() { c.describeConsumerGroups(ctx, cl, o.groups) }))
		inner.Go(timed("fetch committed offsets", func() { o.committed = c.fetchCommitted(ctx, cl, o.groups) }))
		inner.Wait()
	})
	// Return at the first fatal failure without waiting for the other
	// requests: a connection that is still being set up ignores
	// cancellation until its read deadline, and Crawl closes the client,
	// which ends them. The observation is then never read.
	all := make(chan struct{})
	go func() {
		wg.Wait()
		close(all)
	}()
	select {
	case <-all:
	case <-ctx.Done():
		fatalOnce.Do(func() { fatal = ctx.Err() })
	}
	if fatal != nil {
		return nil, fatal
	}
	if o.brokersErr != nil {
		c.log.Warn("describe cluster failed; brokers taken from metadata", "err", o.brokersErr)
		o.brokers, o.clusterID, o.controller = o.metaBrokers, o.metaClusterID, o.metaController
	}
	return o, nil
}

func (c *crawler) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.set.timeout)
}

// describeCluster fills cluster id, controller and brokers from
// DescribeCluster (KIP-700), which also lists fenced brokers, so a broker
// that is restarting does not vanish from the catalog.
func (c *crawler) describeCluster(ctx context.Context, cl *kgo.Client, o *observation) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	req := kmsg.NewPtrDescribeClusterRequest()
	req.IncludeFencedBrokers = true
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = errorWithMessage(resp.ErrorCode, resp.ErrorMessage)
	}
	if err != nil {
		o.brokersErr = err
		return
	}
	o.brokers = make([]brokerInfo, 0, len(resp.Brokers))
	for _, b := range resp.Brokers {
		o.brokers = append(o.brokers, brokerInfo{id: b.NodeID, host: b.Host, port: b.Port, rack: b.Rack, fenced: b.IsFenced})
	}
	o.clusterID = resp.ClusterID
	o.controller = resp.ControllerID
}

// describeTopics reads metadata for all topics and keeps the included ones.
func (c *crawler) describeTopics(ctx context.Context, cl *kgo.Client, o *observation) error {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	// A metadata request for no topics teaches the client the brokers (and
	// proves one answers). The listing of every topic then goes straight to
	// one broker: through the client it would also fill franz-go's topic
	// cache, which this crawl never reads and which costs about as much as
	// decoding the response.
	boot := kmsg.NewPtrMetadataRequest()
	boot.Topics = []kmsg.MetadataRequestTopic{}
	bresp, err := boot.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	if len(bresp.Brokers) == 0 {
		return errors.New("metadata names no brokers")
	}
	req := kmsg.NewPtrMetadataRequest() // nil Topics: all topics
	kresp, err := cl.Broker(int(bresp.Brokers[0].NodeID)).RetriableRequest(ctx, req)
	if err != nil {
		return err
	}
	resp := kresp.(*kmsg.MetadataResponse)
	// DescribeCluster runs concurrently and wins when it answers, since it
	// also lists fenced brokers; observe falls back to these otherwise.
	for _, b := range resp.Brokers {
		o.metaBrokers = append(o.metaBrokers, brokerInfo{id: b.NodeID, host: b.Host, port: b.Port, rack: b.Rack})
	}
	if resp.ClusterID != nil {
		o.metaClusterID = *resp.ClusterID
	}
	o.metaController = resp.ControllerID

	o.byName = make(map[string]*topicInfo, len(resp.Topics))
	o.idNames = make(map[[16]byte]string, len(resp.Topics))
	o.topics = make([]*topicInfo, 0, len(resp.Topics))
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		if rt.Topic == nil || *rt.Topic == "" {
			continue
		}
		name := *rt.Topic
		o.idNames[rt.TopicID] = name
		if !c.includeTopic(name, rt.IsInternal) {
			continue
		}
		t := &topicInfo{name: name, internal: rt.IsInternal, err: errorWithMessage(rt.ErrorCode, nil)}
		t.partitions = make([]partitionInfo, 0, len(rt.Partitions))
		for _, p := range rt.Partitions {
			t.partitions = append(t.partitions, partitionInfo{
				id:       p.Partition,
				leader:   p.Leader,
				replicas: p.Replicas,
				isr:      p.ISR,
				offline:  p.OfflineReplicas,
				err:      errorWithMessage(p.ErrorCode, nil),
			})
		}
		slices.SortFunc(t.partitions, func(a, b partitionInfo) int { return int(a.id) - int(b.id) })
		o.byName[name] = t
		o.topics = append(o.topics, t)
	}
	slices.SortFunc(o.topics, func(a, b *topicInfo) int { return strings.Compare(a.name, b.name) })
	return nil
}

func (c *crawler) includeTopic(name string, internal bool) bool {
	if internal && !c.cfg.IncludeInternal {
		return false
	}
	if len(c.set.include) > 0 {
		ok := false
		for _, re := range c.set.include {
			if re.MatchString(name) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, re := range c.set.exclude {
		if re.MatchString(name) {
			return false
		}
	}
	return true
}

// importantConfig reports whether a topic config is kept even at its
// default value: these answer a steward's first questions about a topic (how
// long is data kept, is it compacted, how durable are writes, how large may
// a record be, which timestamp does it carry).
func importantConfig(name string) bool {
	switch name {
	case "retention.ms", "retention.bytes", "cleanup.policy", "min.insync.replicas",
		"max.message.bytes", "segment.bytes", "compression.type", "message.timestamp.type":
		return true
	}
	return false
}

// configChunk bounds the topics per DescribeConfigs request, so that
// chunks are encoded, served and decoded in parallel.
const configChunk = 5000

func (c *crawler) describeConfigs(ctx context.Context, cl *kgo.Client, topics []*topicInfo) map[string]configResult {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	out := make(map[string]configResult, len(topics))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for lo := 0; lo < len(topics); lo += configChunk {
		chunk := topics[lo:min(lo+configChunk, len(topics))]
		wg.Go(func() {
			req := kmsg.NewPtrDescribeConfigsRequest()
			req.Resources = make([]kmsg.DescribeConfigsRequestResource, 0, len(chunk))
			for _, t := range chunk {
				rr := kmsg.NewDescribeConfigsRequestResource()
				rr.ResourceType = kmsg.ConfigResourceTypeTopic
				rr.ResourceName = t.name
				req.Resources = append(req.Resources, rr)
			}
			part := make(map[string]configResult, len(chunk))
			for _, shard := range cl.RequestSharded(ctx, req) {
				if shard.Err != nil {
					for _, rr := range shard.Req.(*kmsg.DescribeConfigsRequest).Resources {
						part[rr.ResourceName] = configResult{err: shard.Err}
					}
					continue
				}
				resp := shard.Resp.(*kmsg.DescribeConfigsResponse)
				for _, r := range resp.Resources {
					if err := errorWithMessage(r.ErrorCode, r.ErrorMessage); err != nil {
						part[r.ResourceName] = configResult{err: err}
						continue
					}
					part[r.ResourceName] = configResult{configs: keptConfigs(r.Configs)}
				}
			}
			mu.Lock()
			for k, v := range part {
				out[k] = v
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// keptConfigs keeps every config set away from Kafka's default (on the
// topic, or as a dynamic or static broker default) and the important
// configs at any value. Sensitive values are never kept.
func keptConfigs(cs []kmsg.DescribeConfigsResponseResourceConfig) map[string]any {
	out := make(map[string]any, 10)
	for _, rc := range cs {
		if rc.Value == nil || rc.IsSensitive {
			continue
		}
		isDefault := rc.Source == kmsg.ConfigSourceDefaultConfig ||
			(rc.Source == kmsg.ConfigSourceUnknown && rc.IsDefault)
		if isDefault && !importantConfig(rc.Name) {
			continue
		}
		out[rc.Name] = *rc.Value
	}
	return out
}

// listOffsets lists the earliest (ts -2) or latest (ts -1) offset of every
// partition that has a leader: one request per leader broker, addressed
// with the leaders this crawl's metadata named (which spares franz-go a
// metadata lookup of every topic). Partitions that answer a retriable error
// (a leader moved meanwhile) or whose broker could not be reached are asked
// again once through franz-go's sharding, which refreshes the leaders.
func (c *crawler) listOffsets(ctx context.Context, cl *kgo.Client, topics []*topicInfo, ts int64) offsetResults {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	byLeader := map[int32]*kmsg.ListOffsetsRequest{}
	for _, t := range topics {
		if t.err != nil {
			continue
		}
		for _, p := range t.partitions {
			if p.err != nil || p.leader < 0 {
				continue
			}
			req := byLeader[p.leader]
			if req == nil {
				req = newListOffsetsRequest()
				req.Topics = make([]kmsg.ListOffsetsRequestTopic, 0, len(topics))
				byLeader[p.leader] = req
			}
			addListOffsetsPartition(req, t.name, p.id, ts, len(t.partitions))
		}
	}

	out := make(offsetResults, len(topics))
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		retry = newListOffsetsRequest()
	)
	for leader, req := range byLeader {
		wg.Go(func() {
			kresp, err := cl.Broker(int(leader)).RetriableRequest(ctx, req)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				for _, rt := range req.Topics {
					for _, rp := range rt.Partitions {
						addListOffsetsPartition(retry, rt.Topic, rp.Partition, ts, 1)
					}
				}
				return
			}
			for _, rt := range kresp.(*kmsg.ListOffsetsResponse).Topics {
				for _, rp := range rt.Partitions {
					if err := kerr.ErrorForCode(rp.ErrorCode); err != nil && kerr.IsRetriable(err) {
						addListOffsetsPartition(retry, rt.Topic, rp.Partition, ts, 1)
						continue
					}
					out.put(rt.Topic, rp)
				}
			}
		})
	}
	wg.Wait()
	if len(retry.Topics) == 0 {
		return out
	}
	for _, shard := range cl.RequestSharded(ctx, retry) {
		if shard.Err != nil {
			for _, rt := range shard.Req.(*kmsg.ListOffsetsRequest).Topics {
				for _, rp := range rt.Partitions {
					out.putErr(rt.Topic, rp.Partition, shard.Err)
				}
			}
			continue
		}
		for _, rt := range shard.Resp.(*kmsg.ListOffsetsResponse).Topics {
			for _, rp := range rt.Partitions {
				out.put(rt.Topic, rp)
			}
		}
	}
	return out
}

func newListOffsetsRequest() *kmsg.ListOffsetsRequest {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	return req
}

// addListOffsetsPartition appends a partition to req, which is built topic
// by topic; a new topic's partitions get capacity for hint of them.
func addListOffsetsPartition(req *kmsg.ListOffsetsRequest, topic string, partition int32, ts int64, hint int) {
	if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != topic {
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rt.Partitions = make([]kmsg.ListOffsetsRequestTopicPartition, 0, hint)
		req.Topics = append(req.Topics, rt)
	}
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition = partition
	rp.Timestamp = ts
	rt := &req.Topics[len(req.Topics)-1]
	rt.Partitions = append(rt.Partitions, rp)
}

func (r offsetResults) put(topic string, rp kmsg.ListOffsetsResponseTopicPartition) {
	if err := errorWithMessage(rp.ErrorCode, nil); err != nil {
		r.putErr(topic, rp.Partition, err)
		return
	}
	r.m(topic)[rp.Partition] = offsetResult{offset: rp.Offset}
}

func (r offsetResults) putErr(topic string, partition int32, err error) {
	r.m(topic)[partition] = offsetResult{offset: -1, err: err}
}

func (r offsetResults) m(topic string) map[int32]offsetResult {
	m := r[topic]
	if m == nil {
		m = make(map[int32]offsetResult, 4)
		r[topic] = m
	}
	return m
}

// listGroups lists classic and KIP-848 consumer groups on every broker. A
// broker that does not answer fails the crawl: the crawler cannot tell
// which groups it coordinates, and deleting them from the catalog would be
// wrong.
func (c *crawler) listGroups(ctx context.Context, cl *kgo.Client, o *observation) error {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	req := kmsg.NewPtrListGroupsRequest()
	req.TypesFilter = []string{"classic", "consumer"}
	for _, shard := range cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			return fmt.Errorf("broker %d: %w", shard.Meta.NodeID, shard.Err)
		}
		resp := shard.Resp.(*kmsg.ListGroupsResponse)
		if err := errorWithMessage(resp.ErrorCode, nil); err != nil {
			return fmt.Errorf("broker %d: %w", shard.Meta.NodeID, err)
		}
		for _, g := range resp.Groups {
			o.groups = append(o.groups, &groupInfo{
				name:         g.Group,
				groupType:    g.GroupType,
				protocolType: g.ProtocolType,
				coordinator:  shard.Meta.NodeID,
			})
		}
	}
	slices.SortFunc(o.groups, func(a, b *groupInfo) int { return strings.Compare(a.name, b.name) })
	o.groups = slices.CompactFunc(o.groups, func(a, b *groupInfo) bool { return a.name == b.name })
	return nil
}

func isConsumerProtocolGroup(g *groupInfo) bool { return g.groupType == "consumer" }

// describeClassicGroups describes the classic groups, one request per
// coordinator. A group that vanished since the listing is left undescribed
// (and then left out of the snapshot); any other error is kept on the group.
func (c *crawler) describeClassicGroups(ctx context.Context, cl *kgo.Client, groups []*groupInfo) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	byName := make(map[string]*groupInfo)
	req := kmsg.NewPtrDescribeGroupsRequest()
	for _, g := range groups {
		if !isConsumerProtocolGroup(g) {
			byName[g.name] = g
			req.Groups = append(req.Groups, g.name)
		}
	}
	if len(req.Groups) == 0 {
		return
	}
	for _, shard := range cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			for _, name := range shard.Req.(*kmsg.DescribeGroupsRequest).Groups {
				if g := byName[name]; g != nil {
					g.describeErr = shard.Err
				}
			}
			continue
		}
		for _, rg := range shard.Resp.(*kmsg.DescribeGroupsResponse).Groups {
			g := byName[rg.Group]
			if g == nil {
				continue
			}
			if rg.ErrorCode == kerr.GroupIDNotFound.Code || (rg.ErrorCode == 0 && rg.State == "Dead") {
				continue // deleted since listed
			}
			if err := errorWithMessage(rg.ErrorCode, rg.ErrorMessage); err != nil {
				g.describeErr = err
				continue
			}
			g.described = true
			g.state = rg.State
			g.coordinator = shard.Meta.NodeID
			g.protocolType = rg.ProtocolType
			g.protocol = rg.Protocol
			for _, rm := range rg.Members {
				m := memberInfo{memberID: rm.MemberID, instanceID: rm.InstanceID, clientID: rm.ClientID, host: rm.ClientHost}
				if rg.ProtocolType == "consumer" {
					var a kmsg.ConsumerMemberAssignment
					if err := a.ReadFrom(rm.MemberAssignment); err == nil && len(a.Topics) > 0 {
						m.assigned = make(map[string][]int32, len(a.Topics))
						for _, t := range a.Topics {
							m.assigned[t.Topic] = append(m.assigned[t.Topic], t.Partitions...)
						}
					}
					var md kmsg.ConsumerMemberMetadata
					if err := md.ReadFrom(rm.ProtocolMetadata); err == nil {
						m.subscribed = md.Topics
					}
				}
				g.members = append(g.members, m)
			}
		}
	}
}

// describeConsumerGroups describes the KIP-848 groups. Their assignments
// name topics by id (some brokers, kfake among them, leave the name empty),
// so the names are resolved against the metadata read in the same crawl.
func (c *crawler) describeConsumerGroups(ctx context.Context, cl *kgo.Client, groups []*groupInfo) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	byName := make(map[string]*groupInfo)
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	for _, g := range groups {
		if isConsumerProtocolGroup(g) {
			byName[g.name] = g
			req.Groups = append(req.Groups, g.name)
		}
	}
	if len(req.Groups) == 0 {
		return
	}
	for _, shard := range cl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			for _, name := range shard.Req.(*kmsg.ConsumerGroupDescribeRequest).Groups {
				if g := byName[name]; g != nil {
					g.describeErr = shard.Err
				}
			}
			continue
		}
		for _, rg := range shard.Resp.(*kmsg.ConsumerGroupDescribeResponse).Groups {
			g := byName[rg.Group]
			if g == nil {
				continue
			}
			if rg.ErrorCode == kerr.GroupIDNotFound.Code {
				continue // deleted since listed
			}
			if err := errorWithMessage(rg.ErrorCode, rg.ErrorMessage); err != nil {
				g.describeErr = err
				continue
			}
			g.described = true
			g.state = rg.State
			g.coordinator = shard.Meta.NodeID
			g.assignor = rg.AssignorName
			g.epoch = rg.Epoch
			g.assignEpoch = rg.AssignmentEpoch
			for _, rm := range rg.Members {
				m := memberInfo{
					memberID:        rm.MemberID,
					instanceID:      rm.InstanceID,
					clientID:        rm.ClientID,
					host:            rm.ClientHost,
					rack:            rm.RackID,
					subscribed:      rm.SubscribedTopics,
					subscribedRegex: rm.SubscribedTopicRegex,
				}
				// Resolved in build, against the metadata of this crawl.
				m.assigned = make(map[string][]int32, len(rm.Assignment.TopicPartitions))
				for _, tp := range rm.Assignment.TopicPartitions {
					key := tp.Topic
					if key == "" {
						key = topicIDKey(tp.TopicID)
					}
					m.assigned[key] = append(m.assigned[key], tp.Partitions...)
				}
				g.members = append(g.members, m)
			}
		}
	}
}

// topicIDKey marks an assignment key that is a topic id still to be
// resolved to a name. Topic names cannot contain a NUL byte.
func topicIDKey(id [16]byte) string { return "\x00" + string(id[:]) }

func topicIDFromKey(k string) ([16]byte, bool) {
	var id [16]byte
	if len(k) != 17 || k[0] != 0 {
		return id, false
	}
	copy(id[:], k[1:])
	return id, true
}

// fetchCommitted fetches the committed offsets of every group, in
// multi-group OffsetFetch requests (one per coordinator).
func (c *crawler) fetchCommitted(ctx context.Context, cl *kgo.Client, groups []*groupInfo) kadm.FetchOffsetsResponses {
	if len(groups) == 0 {
		return kadm.FetchOffsetsResponses{}
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = g.name
	}
	// kadm.NewClient wraps cl without owning anything of its own; cl is
	// closed by Crawl.
	return kadm.NewClient(cl).FetchManyOffsets(ctx, names...)
}

// describeACLs lists every ACL. A cluster without an authorizer, or one
// that does not let the crawler describe ACLs, leaves aclsErr set.
func (c *crawler) describeACLs(ctx context.Context, cl *kgo.Client, o *observation) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	b := kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternAny).Operations().
		Allow().AllowHosts().Deny().DenyHosts()
	results, err := kadm.NewClient(cl).DescribeACLs(ctx, b)
	if err != nil {
		o.aclsErr = err
		return
	}
	for _, r := range results {
		if r.Err != nil {
			o.aclsErr = errorWithText(r.Err, r.ErrMessage)
			o.acls = nil
			return
		}
		o.acls = append(o.acls, r.Described...)
	}
}

// errorWithMessage turns a Kafka error code and optional message into an
// error, nil for code 0.
func errorWithMessage(code int16, msg *string) error {
	err := kerr.ErrorForCode(code)
	if err == nil {
		return nil
	}
	if msg != nil {
		return errorWithText(err, *msg)
	}
	return err
}

func errorWithText(err error, msg string) error {
	if msg == "" {
		return err
	}
	return fmt.Errorf("%w (%s)", err, msg)
}

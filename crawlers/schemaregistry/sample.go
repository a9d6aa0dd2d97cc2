package schemaregistry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/watershed-data/watershed/schemaparse"
)

// Bounds of what sampling reads and remembers.
const (
	// maxJSONPayload bounds the size of a JSON payload whose field names are
	// compared with the schema; larger payloads are not inspected.
	maxJSONPayload = 1 << 20
	// maxUnknownFields bounds the unknown field paths kept per topic part.
	maxUnknownFields = 50
	// maxIndexesPerID bounds the distinct Protobuf message index lists
	// kept per schema ID.
	maxIndexesPerID = 16
	// maxJSONElements bounds how many elements of a JSON array are walked.
	maxJSONElements = 16
	// maxJSONDepth bounds how deep a JSON payload is walked.
	maxJSONDepth = 32
	// fetchMaxWait bounds how long a broker holds a fetch for new data;
	// sampling reads old data only, so waiting is wasted time.
	fetchMaxWait = 200 * time.Millisecond
)

// Parts of a record are numbered: key 0, value 1.
const numParts = 2

// partName names part i: PartKey for 0, PartValue for 1.
func partName(i int) string {
	if i == 0 {
		return PartKey
	}
	return PartValue
}

// sampleSpec is what sampling needs to know of the registry.
type sampleSpec struct {
	// protobufIDs are the schema IDs of Protobuf schemas, whose records
	// carry message indexes after the schema ID.
	protobufIDs map[int]bool
	// shapes holds, per topic, the JSON Schema field sets of its key and
	// value subjects (nil where the part is not bound to a JSON schema),
	// to report field names the schema lacks.
	shapes map[string][2]*jsonShape
}

// sampleOutcome is the result of one sampling pass.
type sampleOutcome struct {
	// topics are the topics sampled now (possibly with zero records).
	topics map[string]*topicSample
	// failed maps topics that could not be sampled to why.
	failed map[string]string
	// err is set when nothing could be sampled (cluster unreachable).
	err error
}

// topicSample is what sampling keeps of a topic's records: never a key or
// value, only schema IDs, Protobuf message indexes, counts and the paths of
// JSON field names the schema lacks.
type topicSample struct {
	records  int
	ids      [2]map[int]struct{}
	indexes  [2]map[int][][]int
	notWire  [2]int
	unknowns [2]map[string]struct{}
}

func newTopicSample() *topicSample {
	ts := &topicSample{}
	for i := 0; i < numParts; i++ {
		ts.ids[i] = map[int]struct{}{}
		ts.indexes[i] = map[int][][]int{}
		ts.unknowns[i] = map[string]struct{}{}
	}
	return ts
}

// sortedIDs returns the schema IDs seen in part i, ascending.
func (ts *topicSample) sortedIDs(i int) []int {
	out := make([]int, 0, len(ts.ids[i]))
	for id := range ts.ids[i] {
		out = append(out, id)
	}
	sort.Ints(out)
	return out
}

// observe records what r's key and value say about their schemas.
func (ts *topicSample) observe(r *kgo.Record, spec sampleSpec, shapes [2]*jsonShape) {
	ts.records++
	for i, b := range [2][]byte{r.Key, r.Value} {
		if len(b) == 0 {
			continue // a null key or a tombstone says nothing
		}
		id, rest, err := schemaparse.ParseWireHeader(b)
		if err != nil {
			ts.notWire[i]++
			if shapes[i] != nil {
				ts.checkJSON(i, b, shapes[i])
			}
			continue
		}
		ts.ids[i][id] = struct{}{}
		switch {
		case spec.protobufIDs[id]:
			if idx, _, err := schemaparse.ParseProtobufMessageIndexes(rest); err == nil {
				ts.addIndexes(i, id, idx)
			}
		case shapes[i] != nil:
			ts.checkJSON(i, rest, shapes[i])
		}
	}
}

func (ts *topicSample) addIndexes(i, id int, idx []int) {
	known := ts.indexes[i][id]
	if len(known) >= maxIndexesPerID {
		return
	}
	for _, k := range known {
		if equalInts(k, idx) {
			return
		}
	}
	ts.indexes[i][id] = append(known, idx)
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkJSON compares the field names of a JSON payload with the schema and
// keeps the paths of names the schema lacks. Values are never kept; names
// that do not look like identifiers (map keys such as e-mail addresses)
// are never kept either.
func (ts *topicSample) checkJSON(i int, payload []byte, shape *jsonShape) {
	payload = bytes.TrimSpace(payload)
	if len(payload) == 0 || len(payload) > maxJSONPayload || payload[0] != '{' {
		return
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return // not JSON: the deserializer's problem, not drift we can name
	}
	shape.walk(doc, "", 0, func(path string) {
		if len(ts.unknowns[i]) < maxUnknownFields {
			ts.unknowns[i][path] = struct{}{}
		}
	})
}

// jsonShape is the field set of a JSON schema.
type jsonShape struct {
	// fields are the schema's field paths.
	fields map[string]bool
	// objects are the paths whose object members the schema lists ("" for
	// the root, "items[]" for the elements of array items).
	objects map[string]bool
}

func newJSONShape(s *schemaparse.Schema) *jsonShape {
	sh := &jsonShape{fields: map[string]bool{}, objects: map[string]bool{}}
	for _, f := range s.Fields {
		sh.fields[f.Path] = true
		prefix := ""
		if n := len(f.Path) - len(f.Name); n > 0 {
			prefix = f.Path[:n-1]
		}
		sh.objects[prefix] = true
	}
	return sh
}

// walk calls unknown with the path of every member of an object the schema
// describes whose name the schema does not list.
func (sh *jsonShape) walk(v any, prefix string, depth int, unknown func(path string)) {
	if depth > maxJSONDepth {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		if !sh.objects[prefix] {
			return // a map, or an object the schema leaves open: its keys are data
		}
		for k, child := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			if !sh.fields[p] {
				if identifierLike(k) {
					unknown(p)
				}
				continue
			}
			sh.walk(child, p, depth+1, unknown)
		}
	case []any:
		for j, e := range x {
			if j == maxJSONElements {
				break
			}
			sh.walk(e, prefix+"[]", depth+1, unknown)
		}
	}
}

// identifierLike reports whether a JSON member name looks like a field name
// (letters, digits, '_', '-', at most 64 bytes, not starting with a digit)
// rather than data used as a key.
func identifierLike(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		switch {
		case b == '_' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z'):
		case i > 0 && (b == '-' || (b >= '0' && b <= '9')):
		default:
			return false
		}
	}
	return true
}

// partitionPlan is the sampling of one partition.
type partitionPlan struct {
	end   int64
	quota int
	seen  int
	done  bool
}

// sample reads at most recordsPerTopic of the newest records of every
// selected, non-internal topic of the cluster, spread over its partitions,
// within the sample timeout. It returns per topic what the records' framing
// says about their schemas; keys and values are inspected in memory and
// dropped. A topic that cannot be read lands in failed; an unreachable
// cluster sets err.
func (c *crawl) sample(ctx context.Context, spec sampleSpec) *sampleOutcome {
	out := &sampleOutcome{topics: map[string]*topicSample{}, failed: map[string]string{}}
	opts, err := c.cr.kafkaOptions()
	if err != nil {
		out.err = fmt.Errorf("kafka client options of cluster %s: %w", c.cr.cfg.Cluster, err)
		return out
	}
	sctx, cancel := context.WithTimeout(ctx, c.s.sampleTimeout)
	defer cancel()

	admin, err := kgo.NewClient(opts...)
	if err != nil {
		out.err = fmt.Errorf("connect to cluster %s: %w", c.cr.cfg.Cluster, err)
		return out
	}
	defer admin.Close()
	adm := kadm.NewClient(admin)
	details, err := adm.ListTopics(sctx)
	if err != nil {
		out.err = fmt.Errorf("list topics of cluster %s: %w", c.cr.cfg.Cluster, err)
		return out
	}
	var topics []string
	for name, d := range details {
		if d.IsInternal || !selected(name, c.s.topicInclude, c.s.topicExclude) {
			continue
		}
		if d.Err != nil {
			out.failed[name] = fmt.Sprintf("sample records: read metadata: %v", d.Err)
			continue
		}
		topics = append(topics, name)
	}
	sort.Strings(topics)
	if len(topics) == 0 {
		return out
	}
	starts, ends, listErrs, err := listOffsets(sctx, adm, topics)
	if err != nil {
		out.err = fmt.Errorf("list offsets of cluster %s: %w", c.cr.cfg.Cluster, err)
		return out
	}

	plan := map[string]map[int32]kgo.Offset{}
	plans := map[string]map[int32]*partitionPlan{}
	pending := 0
	for _, t := range topics {
		if reason, bad := listErrs[t]; bad {
			out.failed[t] = "sample records: " + reason
			continue
		}
		type span struct {
			p          int32
			start, end int64
		}
		var spans []span
		reason := ""
		for _, pd := range details[t].Partitions.Sorted() {
			so, okS := starts.Lookup(t, pd.Partition)
			eo, okE := ends.Lookup(t, pd.Partition)
			switch {
			case pd.Err != nil:
				reason = fmt.Sprintf("partition %d: %v", pd.Partition, pd.Err)
			case !okS || !okE:
				reason = fmt.Sprintf("partition %d: offsets not listed", pd.Partition)
			case so.Err != nil:
				reason = fmt.Sprintf("partition %d: list earliest offset: %v", pd.Partition, so.Err)
			case eo.Err != nil:
				reason = fmt.Sprintf("partition %d: list latest offset: %v", pd.Partition, eo.Err)
			case eo.Offset > so.Offset:
				spans = append(spans, span{pd.Partition, so.Offset, eo.Offset})
			}
			if reason != "" {
				break
			}
		}
		if reason != "" {
			out.failed[t] = "sample records: " + reason
			continue
		}
		out.topics[t] = newTopicSample()
		n, k := c.s.perTopic, len(spans)
		for i, sp := range spans {
			q := n / k
			if i < n%k {
				q++
			}
			if avail := sp.end - sp.start; int64(q) > avail {
				q = int(avail)
			}
			if q == 0 {
				continue
			}
			if plan[t] == nil {
				plan[t] = map[int32]kgo.Offset{}
				plans[t] = map[int32]*partitionPlan{}
			}
			plan[t][sp.p] = kgo.NewOffset().At(sp.end - int64(q))
			plans[t][sp.p] = &partitionPlan{end: sp.end, quota: q}
			pending++
		}
	}
	if pending == 0 {
		return out
	}

	consumerOpts := append(append([]kgo.Opt(nil), opts...),
		kgo.ConsumePartitions(plan),
		kgo.KeepControlRecords(), // so that a transaction marker at the end counts as reaching it
		kgo.FetchMaxWait(fetchMaxWait),
		kgo.FetchMaxPartitionBytes(1<<20),
		kgo.FetchMaxBytes(16<<20),
	)
	consumer, err := kgo.NewClient(consumerOpts...)
	if err != nil {
		out.err = fmt.Errorf("connect to cluster %s: %w", c.cr.cfg.Cluster, err)
		return out
	}
	defer consumer.Close()

	finish := func(t string, p int32, pp *partitionPlan, pause map[string][]int32) {
		if !pp.done {
			pp.done = true
			pending--
			pause[t] = append(pause[t], p)
		}
	}
	for pending > 0 && sctx.Err() == nil {
		fetches := consumer.PollFetches(sctx)
		pause := map[string][]int32{}
		fetches.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || plans[t] == nil {
				return
			}
			if _, already := out.failed[t]; !already {
				out.failed[t] = fmt.Sprintf("sample records: fetch partition %d: %v", p, err)
			}
			delete(out.topics, t)
			for q, pp := range plans[t] {
				finish(t, q, pp, pause)
			}
		})
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			pp := plans[fp.Topic][fp.Partition]
			ts := out.topics[fp.Topic]
			if pp == nil || pp.done || ts == nil {
				return
			}
			for _, r := range fp.Records {
				if r.Offset >= pp.end {
					break
				}
				if !r.Attrs.IsControl() {
					ts.observe(r, spec, spec.shapes[fp.Topic])
					pp.seen++
				}
				if r.Offset+1 >= pp.end || pp.seen >= pp.quota {
					break
				}
			}
			if len(fp.Records) > 0 {
				last := fp.Records[len(fp.Records)-1]
				if last.Offset+1 >= pp.end || pp.seen >= pp.quota {
					finish(fp.Topic, fp.Partition, pp, pause)
				}
			}
		})
		if len(pause) > 0 {
			consumer.PauseFetchPartitions(pause)
		}
	}
	// Time ran out: a topic that gave some records keeps its (smaller)
	// sample; one that gave none could not be seen.
	for t, pps := range plans {
		ts := out.topics[t]
		if ts == nil || ts.records > 0 {
			continue
		}
		for _, pp := range pps {
			if !pp.done {
				out.failed[t] = fmt.Sprintf("sample records: no record read within %s", c.s.sampleTimeout)
				delete(out.topics, t)
				break
			}
		}
	}
	return out
}

// listOffsets lists the earliest and latest offsets of topics. When the
// combined listing is refused (an authorization error on one topic fails the
// whole request), it lists topic by topic and reports the refused ones in
// errs. It fails only when nothing can be listed.
func listOffsets(ctx context.Context, adm *kadm.Client, topics []string) (starts, ends kadm.ListedOffsets, errs map[string]string, err error) {
	errs = map[string]string{}
	starts, errS := adm.ListStartOffsets(ctx, topics...)
	ends, errE := adm.ListEndOffsets(ctx, topics...)
	if errS == nil && errE == nil {
		return starts, ends, errs, nil
	}
	if ctx.Err() != nil {
		return nil, nil, nil, errors.Join(errS, errE)
	}
	if partial(errS) && partial(errE) {
		// Some brokers answered: what is missing shows up as missing
		// partitions, which fail their topics.
		return starts, ends, errs, nil
	}
	starts, ends = kadm.ListedOffsets{}, kadm.ListedOffsets{}
	okCount := 0
	for _, t := range topics {
		s, err1 := adm.ListStartOffsets(ctx, t)
		e, err2 := adm.ListEndOffsets(ctx, t)
		if err := errors.Join(err1, err2); err != nil {
			errs[t] = fmt.Sprintf("list offsets: %v", err)
			continue
		}
		okCount++
		for k, v := range s {
			starts[k] = v
		}
		for k, v := range e {
			ends[k] = v
		}
	}
	if okCount == 0 {
		return nil, nil, nil, errors.Join(errS, errE)
	}
	return starts, ends, errs, nil
}

// partial reports whether err is nil or a listing that some brokers
// answered.
func partial(err error) bool {
	if err == nil {
		return true
	}
	var se *kadm.ShardErrors
	return errors.As(err, &se) && !se.AllFailed
}

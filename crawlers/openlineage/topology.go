package openlineage

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The text Topology#describe() prints (TopologyDescription#toString):
//
//	Topologies:
//	   Sub-topology: 0
//	    Source: KSTREAM-SOURCE-0000000000 (topics: [orders])
//	      --> KSTREAM-KEY-SELECT-0000000001
//	    Processor: KSTREAM-KEY-SELECT-0000000001 (stores: [])
//	      --> counts-repartition-filter
//	      <-- KSTREAM-SOURCE-0000000000
//	    Sink: counts-repartition-sink (topic: counts-repartition)
//	      <-- counts-repartition-filter
//	  Sub-topology: 1 for global store (will not generate tasks)
//	    Source: KSTREAM-SOURCE-0000000003 (topics: [customers])
//	      --> KTABLE-SOURCE-0000000004
//	    Processor: KTABLE-SOURCE-0000000004 (stores: [customers-store])
//	      --> none
//	      <-- KSTREAM-SOURCE-0000000003
//
// A pattern source prints "(topics: orders-.*)" (no brackets); older
// releases printed "(topic pattern: orders-.*)". A sink whose topic a
// TopicNameExtractor chooses prints "(extractor class: com.acme.Router@1f)".
// Kafka 1.x listed global stores after the sub-topologies, under
// "Global Stores:", as "GlobalStore: SOURCE (topic: t) -> PROCESSOR (store: s)"
// or "none". Internal topics appear without the application id prefix.

// topology is a parsed describe() text.
type topology struct {
	subs []*subTopology
}

type subTopology struct {
	id     string
	global bool
	line   int
	nodes  []*topoNode
}

type nodeKind string

const (
	nodeSource    nodeKind = "Source"
	nodeProcessor nodeKind = "Processor"
	nodeSink      nodeKind = "Sink"
)

type topoNode struct {
	kind      nodeKind
	name      string
	line      int
	topics    []string // source
	pattern   string   // source
	stores    []string // processor
	topic     string   // sink
	extractor string   // sink
	succ      []string
	pred      []string
	succLine  int
	predLine  int
}

// topologyError is a malformed topology: the 1-based line and the reason.
type topologyError struct {
	line int
	msg  string
}

func (e *topologyError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

func errAt(line int, format string, args ...any) error {
	return &topologyError{line: line, msg: fmt.Sprintf(format, args...)}
}

// parseTopology parses the text of Topology#describe(). It accepts the
// layouts of Kafka 1.0 to 4.x and rejects anything else with the line and
// the reason: an unknown line, a node outside a sub-topology, an arrow
// without a node or on a node that cannot have it, a malformed list or
// name, a node declared twice, an arrow naming a node its sub-topology
// lacks, or arrows that disagree (A --> B without B <-- A).
func parseTopology(text string) (*topology, error) {
	t := &topology{}
	var sub *subTopology
	var node *topoNode
	inGlobalStores := false
	declared := map[string]*topoNode{}
	nodeSub := map[*topoNode]*subTopology{}
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i, raw := range lines {
		n := i + 1
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		switch {
		case line == "Topologies:":
			if sub != nil || inGlobalStores {
				return nil, errAt(n, `"Topologies:" must come first`)
			}
		case strings.HasPrefix(line, "Sub-topology:"):
			if inGlobalStores {
				return nil, errAt(n, "a sub-topology after the global stores")
			}
			rest := strings.TrimSpace(strings.TrimPrefix(line, "Sub-topology:"))
			global := false
			if r, ok := strings.CutSuffix(rest, "for global store (will not generate tasks)"); ok {
				rest, global = strings.TrimSpace(r), true
			}
			if rest == "" || strings.ContainsAny(rest, " \t") {
				return nil, errAt(n, "malformed sub-topology header %q", line)
			}
			for _, s := range t.subs {
				if s.id == rest {
					return nil, errAt(n, "sub-topology %s is declared twice (first on line %d)", rest, s.line)
				}
			}
			sub = &subTopology{id: rest, global: global, line: n}
			t.subs = append(t.subs, sub)
			node = nil
		case line == "Global Stores:":
			if inGlobalStores {
				return nil, errAt(n, `"Global Stores:" appears twice`)
			}
			inGlobalStores, sub, node = true, nil, nil
		case inGlobalStores && line == "none":
		case strings.HasPrefix(line, "GlobalStore:"):
			if !inGlobalStores {
				return nil, errAt(n, `a GlobalStore line outside "Global Stores:"`)
			}
			gs, err := parseLegacyGlobalStore(strings.TrimSpace(strings.TrimPrefix(line, "GlobalStore:")), n)
			if err != nil {
				return nil, err
			}
			for _, nd := range gs.nodes {
				if prev := declared[nd.name]; prev != nil {
					return nil, errAt(n, "node %s is declared twice (first on line %d)", nd.name, prev.line)
				}
				declared[nd.name] = nd
				nodeSub[nd] = gs
			}
			t.subs = append(t.subs, gs)
		case strings.HasPrefix(line, "Source:"), strings.HasPrefix(line, "Processor:"), strings.HasPrefix(line, "Sink:"):
			if sub == nil {
				return nil, errAt(n, "a node outside any sub-topology")
			}
			nd, err := parseNode(line, n)
			if err != nil {
				return nil, err
			}
			if prev := declared[nd.name]; prev != nil {
				return nil, errAt(n, "node %s is declared twice (first on line %d)", nd.name, prev.line)
			}
			declared[nd.name] = nd
			nodeSub[nd] = sub
			sub.nodes = append(sub.nodes, nd)
			node = nd
		case strings.HasPrefix(line, "-->"), strings.HasPrefix(line, "<--"):
			if node == nil {
				return nil, errAt(n, "an arrow without a node before it")
			}
			names, err := parseNameList(strings.TrimSpace(line[3:]), n)
			if err != nil {
				return nil, err
			}
			if strings.HasPrefix(line, "-->") {
				if node.kind == nodeSink {
					return nil, errAt(n, "sink %s cannot have successors", node.name)
				}
				if node.succLine != 0 {
					return nil, errAt(n, "second --> line for %s (first on line %d)", node.name, node.succLine)
				}
				node.succ, node.succLine = names, n
			} else {
				if node.kind == nodeSource {
					return nil, errAt(n, "source %s cannot have predecessors", node.name)
				}
				if node.predLine != 0 {
					return nil, errAt(n, "second <-- line for %s (first on line %d)", node.name, node.predLine)
				}
				node.pred, node.predLine = names, n
			}
		default:
			return nil, errAt(n, "unrecognised line %q", clipText(line))
		}
	}
	if len(t.subs) == 0 {
		return nil, errAt(max(1, len(lines)), "no sub-topology found: expected the text of Topology#describe()")
	}
	for _, s := range t.subs {
		if len(s.nodes) == 0 {
			return nil, errAt(s.line, "sub-topology %s has no node", s.id)
		}
	}
	// Arrows must name nodes of the same sub-topology, and agree.
	for _, s := range t.subs {
		for _, nd := range s.nodes {
			for _, m := range nd.succ {
				other := declared[m]
				if other == nil || nodeSub[other] != s {
					return nil, errAt(nd.succLine, "%s names successor %s, which sub-topology %s does not declare", nd.name, m, s.id)
				}
				if other.predLine != 0 && !slices.Contains(other.pred, nd.name) {
					return nil, errAt(other.predLine, "%s does not list %s as predecessor although %s lists it as successor (line %d)", other.name, nd.name, nd.name, nd.succLine)
				}
			}
			for _, m := range nd.pred {
				other := declared[m]
				if other == nil || nodeSub[other] != s {
					return nil, errAt(nd.predLine, "%s names predecessor %s, which sub-topology %s does not declare", nd.name, m, s.id)
				}
				if other.succLine != 0 && !slices.Contains(other.succ, nd.name) {
					return nil, errAt(other.succLine, "%s does not list %s as successor although %s lists it as predecessor (line %d)", other.name, nd.name, nd.name, nd.predLine)
				}
			}
		}
	}
	return t, nil
}

// parseNode parses "Source: NAME (topics: [a, b])", "Processor: NAME
// (stores: [s])" and "Sink: NAME (topic: t)" lines.
func parseNode(line string, n int) (*topoNode, error) {
	kindText, rest, _ := strings.Cut(line, ":")
	nd := &topoNode{kind: nodeKind(kindText), line: n}
	rest = strings.TrimSpace(rest)
	open := strings.Index(rest, " (")
	if open <= 0 || !strings.HasSuffix(rest, ")") {
		return nil, errAt(n, "expected %q, got %q", kindText+": NAME (…)", clipText(line))
	}
	nd.name = rest[:open]
	if !validNodeName(nd.name) {
		return nil, errAt(n, "invalid node name %q", nd.name)
	}
	key, value, ok := strings.Cut(rest[open+2:len(rest)-1], ":")
	if !ok {
		return nil, errAt(n, "expected \"key: value\" in parentheses, got %q", clipText(rest[open+1:]))
	}
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	var err error
	switch {
	case nd.kind == nodeSource && key == "topics":
		switch {
		case strings.HasPrefix(value, "[") && strings.HasSuffix(value, "]"):
			nd.topics, err = parseList(value, n, validStreamsName)
			if err == nil && len(nd.topics) == 0 {
				err = errAt(n, "source %s reads no topic", nd.name)
			}
		case strings.HasPrefix(value, "["):
			// A pattern may start with a character class ([a-z]+-orders);
			// an unclosed list is neither.
			if _, rerr := regexp.Compile(value); rerr != nil {
				err = errAt(n, "%q is neither a topic list nor a pattern", value)
			}
			nd.pattern = value
		default:
			nd.pattern = value
		}
	case nd.kind == nodeSource && key == "topic pattern":
		nd.pattern = value
	case nd.kind == nodeProcessor && key == "stores":
		nd.stores, err = parseList(value, n, validStoreName)
	case nd.kind == nodeSink && key == "topic":
		if !validStreamsName(value) {
			err = errAt(n, "invalid topic name %q", value)
		}
		nd.topic = value
	case nd.kind == nodeSink && key == "extractor class":
		nd.extractor = value
		if value == "" {
			err = errAt(n, "sink %s has an empty extractor class", nd.name)
		}
	default:
		err = errAt(n, "%s %s cannot have %q", strings.ToLower(kindText), nd.name, key)
	}
	if err != nil {
		return nil, err
	}
	if nd.kind == nodeSource && nd.pattern == "" && len(nd.topics) == 0 {
		return nil, errAt(n, "source %s names no topic or pattern", nd.name)
	}
	return nd, nil
}

// parseList parses "[a, b]" ("[]" is empty), each name checked by valid.
func parseList(s string, n int, valid func(string) bool) ([]string, error) {
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return nil, errAt(n, "expected a list in brackets, got %q", s)
	}
	inner := strings.TrimSpace(s[1 : len(s)-1])
	if inner == "" {
		return nil, nil
	}
	var out []string
	for _, item := range strings.Split(inner, ",") {
		item = strings.TrimSpace(item)
		if !valid(item) {
			return nil, errAt(n, "invalid name %q in %s", item, s)
		}
		out = append(out, item)
	}
	return out, nil
}

// parseNameList parses the node names after an arrow: "a, b" or "none".
func parseNameList(s string, n int) ([]string, error) {
	if s == "none" {
		return nil, nil
	}
	if s == "" {
		return nil, errAt(n, "an arrow names no node (expected a name or \"none\")")
	}
	var out []string
	for _, item := range strings.Split(s, ", ") {
		if !validNodeName(item) || item != strings.TrimSpace(item) {
			return nil, errAt(n, "invalid node name %q", item)
		}
		out = append(out, item)
	}
	return out, nil
}

// parseLegacyGlobalStore parses a Kafka 1.x line
// "SOURCE (topic: t) -> PROCESSOR (store: s)" into a global sub-topology.
func parseLegacyGlobalStore(s string, n int) (*subTopology, error) {
	left, right, ok := strings.Cut(s, "->")
	if !ok {
		return nil, errAt(n, "expected \"GlobalStore: SOURCE (topic: t) -> PROCESSOR (store: s)\"")
	}
	src, err := parseNode("Source: "+normaliseHead(left, "topics"), n)
	if err != nil {
		return nil, err
	}
	proc, err := parseNode("Processor: "+normaliseHead(right, "stores"), n)
	if err != nil {
		return nil, err
	}
	src.succ, src.succLine = []string{proc.name}, n
	proc.pred, proc.predLine = []string{src.name}, n
	return &subTopology{id: "global-" + proc.name, global: true, line: n, nodes: []*topoNode{src, proc}}, nil
}

// normaliseHead turns "NAME(topic: t)" or "NAME (store: s)" into the
// modern "NAME (topics: [t])".
func normaliseHead(s, key string) string {
	s = strings.TrimSpace(s)
	open := strings.Index(s, "(")
	if open < 0 || !strings.HasSuffix(s, ")") {
		return s
	}
	_, value, _ := strings.Cut(s[open+1:len(s)-1], ":")
	value = strings.TrimSpace(value)
	if !strings.HasPrefix(value, "[") {
		value = "[" + value + "]"
	}
	return strings.TrimSpace(s[:open]) + " (" + key + ": " + value + ")"
}

// validStreamsName reports whether s is a legal Kafka Streams name (topic,
// store, processor, application id): 1 to 249 ASCII letters, digits, '.',
// '_' and '-'.
func validStreamsName(s string) bool {
	if s == "" || len(s) > 249 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b == '.' || b == '_' || b == '-' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')) {
			return false
		}
	}
	return true
}

// validNodeName accepts the names Topology#addProcessor and friends take
// (only the DSL checks them): anything without control characters that
// does not start or end with a space.
func validNodeName(s string) bool {
	if s == "" || s != strings.TrimSpace(s) {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// validStoreName accepts a store name: no whitespace, commas or brackets
// (which would break the list), no control characters.
func validStoreName(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t,[]") && validNodeName(s)
}

func clipText(s string) string {
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}

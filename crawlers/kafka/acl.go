package kafka

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/watershed-data/watershed/catalog"
)

// Operations an ACL grants or denies on a topic, as far as data access goes.
const (
	permRead uint8 = 1 << iota
	permWrite
)

func topicOps(op kmsg.ACLOperation) uint8 {
	switch op {
	case kmsg.ACLOperationRead:
		return permRead
	case kmsg.ACLOperationWrite:
		return permWrite
	case kmsg.ACLOperationAll:
		return permRead | permWrite
	}
	return 0
}

// wildcardPrincipal reports whether p names every principal ("User:*").
func wildcardPrincipal(p string) bool { return p == "*" || strings.HasSuffix(p, ":*") }

// matchTopics calls fn with the index of every name in sorted that the ACL
// resource (pattern, name) covers: a literal name, the literal wildcard "*",
// or a prefix.
func matchTopics(sorted []string, pattern kmsg.ACLResourcePatternType, name string, fn func(int)) {
	switch pattern {
	case kmsg.ACLResourcePatternTypeLiteral:
		if name == "*" {
			for i := range sorted {
				fn(i)
			}
			return
		}
		if i, ok := slices.BinarySearch(sorted, name); ok {
			fn(i)
		}
	case kmsg.ACLResourcePatternTypePrefixed:
		for i := sort.SearchStrings(sorted, name); i < len(sorted) && strings.HasPrefix(sorted[i], name); i++ {
			fn(i)
		}
	}
}

// acls adds a PRINCIPAL per principal named in any ACL, topic CAN_READ
// principal for every catalogued topic the principal may read, and
// principal CAN_WRITE topic for every one it may write, following Kafka's
// authorizer: READ, WRITE or ALL allowed on the topic by a literal name, by
// the literal wildcard "*" or by a prefix, and not denied to the principal
// or to every principal (User:*). A deny limited to one host does not
// remove the edge (the principal may still read from other hosts); an
// allow limited to one host does create it.
func (b *builder) acls(o *observation) {
	if o.aclsErr != nil {
		b.incomplete(ScopeACLs, fmt.Sprintf("describe ACLs: %v", o.aclsErr))
		return
	}
	names := make([]string, len(o.topics))
	for i, t := range o.topics {
		names[i] = t.name
	}
	type grant struct {
		principal string
		topic     int
	}
	allow := map[grant]uint8{}
	deny := map[grant]uint8{}
	denyEveryone := map[int]uint8{}
	described := map[string][]kadm.DescribedACL{}
	for _, a := range o.acls {
		described[a.Principal] = append(described[a.Principal], a)
		if a.Type != kmsg.ACLResourceTypeTopic {
			continue
		}
		ops := topicOps(a.Operation)
		if ops == 0 {
			continue
		}
		switch a.Permission {
		case kmsg.ACLPermissionTypeAllow:
			matchTopics(names, a.Pattern, a.Name, func(i int) { allow[grant{a.Principal, i}] |= ops })
		case kmsg.ACLPermissionTypeDeny:
			if a.Host != "*" {
				continue
			}
			if wildcardPrincipal(a.Principal) {
				matchTopics(names, a.Pattern, a.Name, func(i int) { denyEveryone[i] |= ops })
			} else {
				matchTopics(names, a.Pattern, a.Name, func(i int) { deny[grant{a.Principal, i}] |= ops })
			}
		}
	}

	for principal, acls := range described {
		props := catalog.Properties{"acls": describeACLs(acls)}
		if typ, name, ok := strings.Cut(principal, ":"); ok {
			props["principalType"] = typ
			props["name"] = name
		}
		b.asset(catalog.Asset{
			URN:        PrincipalURN(b.source, principal),
			Name:       principal,
			Properties: props,
			Scope:      ScopeACLs,
		})
	}
	for g, ops := range allow {
		effective := ops &^ deny[g] &^ denyEveryone[g.topic]
		if effective == 0 {
			continue
		}
		topic, principal := TopicURN(b.source, names[g.topic]), PrincipalURN(b.source, g.principal)
		if effective&permRead != 0 {
			b.link(catalog.Link{From: topic, Kind: catalog.EdgeCanRead, To: principal, Origin: OriginACL, Confidence: 1, Scope: ScopeACLs})
		}
		if effective&permWrite != 0 {
			b.link(catalog.Link{From: principal, Kind: catalog.EdgeCanWrite, To: topic, Origin: OriginACL, Confidence: 1, Scope: ScopeACLs})
		}
	}
}

// describeACLs renders a principal's ACLs as a sorted list of objects, so
// that a steward (or a policy) sees exactly what grants the edges.
func describeACLs(acls []kadm.DescribedACL) []any {
	type row struct {
		key string
		val map[string]any
	}
	rows := make([]row, 0, len(acls))
	for _, a := range acls {
		v := map[string]any{
			"resourceType": a.Type.String(),
			"patternType":  a.Pattern.String(),
			"resource":     a.Name,
			"operation":    a.Operation.String(),
			"permission":   a.Permission.String(),
			"host":         a.Host,
		}
		key := strings.Join([]string{a.Type.String(), a.Pattern.String(), a.Name, a.Operation.String(), a.Permission.String(), a.Host}, "\x00")
		rows = append(rows, row{key, v})
	}
	slices.SortFunc(rows, func(x, y row) int { return strings.Compare(x.key, y.key) })
	rows = slices.CompactFunc(rows, func(x, y row) bool { return x.key == y.key })
	out := make([]any, len(rows))
	for i, r := range rows {
		out[i] = r.val
	}
	return out
}

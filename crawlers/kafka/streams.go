package kafka

import (
	"fmt"
	"slices"
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// Kafka Streams names the topics it creates for an application
// <application.id>-<name>-changelog (a state store's backup) and
// <application.id>-<name>-repartition (data re-keyed between sub-topologies),
// and foreign-key joins add <application.id>-<name>-subscription-registration-topic
// and -subscription-response-topic. Its consumer group id is the
// application.id, and that group's members use the classic protocol with the
// "stream" assignor.

type internalTopicKind int

const (
	notInternal internalTopicKind = iota
	changelogTopic
	repartitionTopic // includes foreign-key join subscription topics
)

func streamsTopicKind(name string) (internalTopicKind, string) {
	switch {
	case strings.HasSuffix(name, "-changelog"):
		return changelogTopic, "-changelog"
	case strings.HasSuffix(name, "-repartition"):
		return repartitionTopic, "-repartition"
	case strings.HasSuffix(name, "-topic"):
		lower := strings.ToLower(name)
		if strings.Contains(lower, "-subscription-registration") || strings.Contains(lower, "-subscription-response") {
			return repartitionTopic, "-topic"
		}
	}
	return notInternal, ""
}

type streamsApp struct {
	id          string
	stores      []string
	changelogs  []string
	repartition []string
}

// streamsAppID finds the application an internal topic belongs to: the
// longest candidate group id that prefixes it (followed by "-" and a
// non-empty name), else the part before a generated operator name
// ("-KSTREAM-", "-KTABLE-"). It returns "" when neither applies.
func streamsAppID(topic, suffix string, candidate map[string]bool) string {
	body := strings.TrimSuffix(topic, suffix)
	for i := len(body) - 1; i > 0; i-- {
		if body[i] == '-' && i < len(body)-1 && candidate[body[:i]] {
			return body[:i]
		}
	}
	for _, marker := range []string{"-KSTREAM-", "-KTABLE-"} {
		if i := strings.Index(body, marker); i > 0 {
			return body[:i]
		}
	}
	return ""
}

// streams infers Kafka Streams applications and adds a JOB per application
// with: every topic the application's group consumes → job (CONSUMES, with
// the group's provenance), job → each of its internal topics (PRODUCES),
// and each repartition topic → job (CONSUMES). An application is a classic
// group using the "stream" assignor, or the application id that internal
// topic names reveal (the id of a classic group whose assignor is unknown
// or "stream", or the prefix of a generated operator name).
func (b *builder) streams(o *observation, consumed map[string][]consumption) {
	candidate := map[string]bool{}
	apps := map[string]*streamsApp{}
	for _, g := range o.groups {
		if isConsumerProtocolGroup(g) || (g.protocol != "" && g.protocol != "stream") {
			continue
		}
		candidate[g.name] = true
		if g.protocol == "stream" {
			apps[g.name] = &streamsApp{id: g.name}
		}
	}
	for _, t := range o.topics {
		kind, suffix := streamsTopicKind(t.name)
		if kind == notInternal {
			continue
		}
		id := streamsAppID(t.name, suffix, candidate)
		if id == "" {
			continue
		}
		app := apps[id]
		if app == nil {
			app = &streamsApp{id: id}
			apps[id] = app
		}
		name := strings.TrimSuffix(strings.TrimPrefix(t.name, id+"-"), suffix)
		if kind == changelogTopic {
			app.changelogs = append(app.changelogs, t.name)
			app.stores = append(app.stores, name)
		} else {
			app.repartition = append(app.repartition, t.name)
		}
	}

	for _, app := range apps {
		scope := StreamsScope(app.id)
		if reason, ok := b.snap.Incomplete[GroupScope(app.id)]; ok {
			b.incomplete(scope, fmt.Sprintf("consumer group %s: %s", app.id, reason))
		}
		job := StreamsJobURN(b.source, app.id)
		slices.Sort(app.stores)
		internal := append(slices.Clone(app.changelogs), app.repartition...)
		slices.Sort(internal)
		b.asset(catalog.Asset{
			URN:  job,
			Name: app.id,
			Properties: catalog.Properties{
				"framework":      "kafka-streams",
				"applicationId":  app.id,
				"stores":         stringList(app.stores),
				"internalTopics": stringList(internal),
			},
			Scope: scope,
		})
		for _, c := range consumed[app.id] {
			b.link(catalog.Link{From: TopicURN(b.source, c.topic), Kind: catalog.EdgeConsumes, To: job, Origin: c.origin, Confidence: c.confidence, Scope: scope})
		}
		for _, t := range internal {
			b.link(catalog.Link{From: job, Kind: catalog.EdgeProduces, To: TopicURN(b.source, t), Origin: OriginStreamsNaming, Confidence: ConfidenceStreamsNaming, Scope: scope})
		}
		for _, t := range app.repartition {
			b.link(catalog.Link{From: TopicURN(b.source, t), Kind: catalog.EdgeConsumes, To: job, Origin: OriginStreamsNaming, Confidence: ConfidenceStreamsNaming, Scope: scope})
		}
	}
}

package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// validateDistributed checks the store and changelog sections and reads
// the Neo4j password file.
func (c *Config) validateDistributed() []error {
	var errs []error
	st := &c.Store
	switch st.Kind {
	case StoreEmbedded:
		for _, kv := range [][2]string{{"uri", st.URI}, {"user", st.User}, {"passwordFile", st.PasswordFile}, {"database", st.Database}} {
			if kv[1] != "" {
				errs = append(errs, fmt.Errorf("store.%s: only for kind neo4j (store.kind is embedded)", kv[0]))
			}
		}
	case StoreNeo4j:
		if st.URI == "" {
			errs = append(errs, errors.New("store.uri: required for kind neo4j (bolt://host:7687)"))
		} else if u, err := url.Parse(st.URI); err != nil || u.Host == "" || !oneOf(u.Scheme, "bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc") {
			errs = append(errs, fmt.Errorf("store.uri: %q is not a Bolt address (bolt://host:7687, neo4j://host:7687, or their +s forms)", st.URI))
		}
		switch {
		case st.PasswordFile != "" && st.User == "":
			errs = append(errs, errors.New("store.user: required with store.passwordFile"))
		case st.User != "" && st.PasswordFile == "":
			errs = append(errs, errors.New("store.passwordFile: required with store.user (a file holding the password)"))
		case st.PasswordFile != "":
			b, err := os.ReadFile(st.PasswordFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("store.passwordFile: %w", err))
			} else if st.Password = strings.TrimRight(string(b), "\r\n"); st.Password == "" {
				errs = append(errs, fmt.Errorf("store.passwordFile: %s is empty", st.PasswordFile))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("store.kind: %q is not embedded or neo4j", st.Kind))
	}
	cl := &c.Changelog
	switch cl.Kind {
	case ChangelogEmbedded:
		if len(cl.Bootstrap) > 0 || cl.Topic != "" || cl.Partitions != 0 || cl.ReplicationFactor != 0 {
			errs = append(errs, errors.New("changelog: bootstrap, topic, partitions and replicationFactor are only for kind kafka (changelog.kind is embedded)"))
		}
		if st.Kind == StoreNeo4j {
			errs = append(errs, errors.New("changelog.kind: the embedded change log serves one process; with store.kind neo4j (replicas) use kafka"))
		}
	case ChangelogKafka:
		if len(cl.Bootstrap) == 0 {
			errs = append(errs, errors.New("changelog.bootstrap: required for kind kafka (host:port of at least one broker)"))
		}
		for i, b := range cl.Bootstrap {
			if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
				errs = append(errs, fmt.Errorf("changelog.bootstrap[%d]: %q is not host:port", i, b))
			}
		}
		if cl.Topic == "" {
			cl.Topic = "watershed.changes"
		} else if !validTopic(cl.Topic) {
			errs = append(errs, fmt.Errorf("changelog.topic: %q is not a Kafka topic name (letters, digits, '.', '_', '-'; at most 249)", cl.Topic))
		}
		if cl.Partitions < 0 {
			errs = append(errs, fmt.Errorf("changelog.partitions: %d is negative", cl.Partitions))
		}
		if cl.ReplicationFactor < 0 || cl.ReplicationFactor > 32767 {
			errs = append(errs, fmt.Errorf("changelog.replicationFactor: %d is out of range", cl.ReplicationFactor))
		}
	default:
		errs = append(errs, fmt.Errorf("changelog.kind: %q is not embedded or kafka", cl.Kind))
	}
	return errs
}

func oneOf(s string, options ...string) bool {
	for _, o := range options {
		if s == o {
			return true
		}
	}
	return false
}

func validTopic(t string) bool {
	if t == "" || len(t) > 249 || t == "." || t == ".." {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// Package realservers starts the real servers of the integration suite —
// Apache Kafka (KRaft), Kafka Connect with Debezium, Apicurio Registry,
// PostgreSQL and Neo4j — and tells tests where they run.
//
// The launcher side (Launcher, used by infra/up and infra/down) resolves
// pinned artifacts from Maven Central with Maven into a cache folder, starts
// each server as its own process (each JVM with its own classpath) on
// loopback and free ports, polls each until it is ready, and records the
// result in a state file (servers.json) beside the servers' logs. Servers are
// started one at a time and stopped by PID.
//
// The test side (Require) reads that state file, named by the environment
// variable REALSERVERS_STATE. Without it a test skips with the reason;
// with REALSERVERS_REQUIRED=1 (set by `make test-real`) it fails instead,
// so a server that did not start can never pass as a skip.
//
// Nothing here is needed by `go build` or by the demo; infra/README.md lists
// versions, traps and start-up times.
package realservers

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Environment variables read by Require and set by `make test-real`. They
// stay out of the WATERSHED_ prefix, which the watershed binary reads as
// its own configuration and refuses unknown names of.
const (
	// EnvState names the servers.json state file written by infra/up.
	EnvState = "REALSERVERS_STATE"
	// EnvRequired, when "1", makes Require fail instead of skip.
	EnvRequired = "REALSERVERS_REQUIRED"
)

// Server names one of the servers the launcher starts.
type Server string

// The servers, in the order the launcher starts them (Connect needs Kafka
// and the registry; the others stand alone).
const (
	Postgres Server = "postgres"
	Kafka    Server = "kafka"
	Registry Server = "registry"
	Connect  Server = "connect"
	Neo4j    Server = "neo4j"
)

// All lists every server in start order.
var All = []Server{Postgres, Kafka, Registry, Connect, Neo4j}

// Proc is one process the launcher started.
type Proc struct {
	// Name is the process's role ("kafka-0", "connect", "postgres").
	Name string `json:"name"`
	// PID is the process id; Down signals it and nothing else.
	PID int `json:"pid"`
	// Marker is a string the process's command line contains, checked
	// before signalling PID so that a reused PID is never signalled.
	Marker string `json:"marker"`
	// Log is the file the process writes its output to.
	Log string `json:"log"`
	// StartSeconds is how long the process took from exec to ready.
	StartSeconds float64 `json:"startSeconds"`
}

// KafkaInfo describes the running Kafka cluster.
type KafkaInfo struct {
	// Bootstrap lists every broker's PLAINTEXT listener (host:port).
	Bootstrap []string `json:"bootstrap"`
	// ClusterID is the id the storage was formatted with.
	ClusterID string `json:"clusterId"`
	// Brokers is the number of brokers; node ids are 0…Brokers-1 and node
	// 0 is also the KRaft controller.
	Brokers int    `json:"brokers"`
	Version string `json:"version"`
	Procs   []Proc `json:"procs"`
}

// RegistryInfo describes the running Apicurio Registry.
type RegistryInfo struct {
	// URL is the Confluent-compatible API's base URL (…/apis/ccompat/v7):
	// what a schema registry client or crawler is pointed at.
	URL string `json:"url"`
	// NativeURL is Apicurio's own v2 API (…/apis/registry/v2), the one its
	// Kafka Connect converter speaks.
	NativeURL string `json:"nativeUrl"`
	Version   string `json:"version"`
	Proc      Proc   `json:"proc"`
}

// ConnectInfo describes the running Kafka Connect worker.
type ConnectInfo struct {
	// URL is the worker's REST API base URL.
	URL string `json:"url"`
	// Plugins maps each installed plugin folder to its version.
	Plugins map[string]string `json:"plugins"`
	Proc    Proc              `json:"proc"`
}

// PostgresInfo describes the running PostgreSQL server. The superuser
// logs in over TCP with Password (scram-sha-256).
type PostgresInfo struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	User     string `json:"user"`
	Password string `json:"password"`
	DataDir  string `json:"dataDir"`
	Version  string `json:"version"`
	Proc     Proc   `json:"proc"`
}

// Neo4jInfo describes the running Neo4j DBMS.
type Neo4jInfo struct {
	// BoltURL is bolt://127.0.0.1:<port>.
	BoltURL  string `json:"boltUrl"`
	User     string `json:"user"`
	Password string `json:"password"`
	Version  string `json:"version"`
	Proc     Proc   `json:"proc"`
}

// State is the content of servers.json: what runs, where, and its logs.
type State struct {
	RunDir   string        `json:"runDir"`
	Started  time.Time     `json:"started"`
	Kafka    *KafkaInfo    `json:"kafka,omitempty"`
	Registry *RegistryInfo `json:"registry,omitempty"`
	Connect  *ConnectInfo  `json:"connect,omitempty"`
	Postgres *PostgresInfo `json:"postgres,omitempty"`
	Neo4j    *Neo4jInfo    `json:"neo4j,omitempty"`
}

// Has reports whether s records server n as started.
func (s *State) Has(n Server) bool {
	switch n {
	case Kafka:
		return s.Kafka != nil
	case Registry:
		return s.Registry != nil
	case Connect:
		return s.Connect != nil
	case Postgres:
		return s.Postgres != nil
	case Neo4j:
		return s.Neo4j != nil
	}
	return false
}

// Procs lists every recorded process in start order.
func (s *State) Procs() []Proc {
	var out []Proc
	if s.Postgres != nil {
		out = append(out, s.Postgres.Proc)
	}
	if s.Kafka != nil {
		out = append(out, s.Kafka.Procs...)
	}
	if s.Registry != nil {
		out = append(out, s.Registry.Proc)
	}
	if s.Connect != nil {
		out = append(out, s.Connect.Proc)
	}
	if s.Neo4j != nil {
		out = append(out, s.Neo4j.Proc)
	}
	return out
}

// procsOf lists the processes of server n.
func (s *State) procsOf(n Server) []Proc {
	switch {
	case n == Kafka && s.Kafka != nil:
		return s.Kafka.Procs
	case n == Registry && s.Registry != nil:
		return []Proc{s.Registry.Proc}
	case n == Connect && s.Connect != nil:
		return []Proc{s.Connect.Proc}
	case n == Postgres && s.Postgres != nil:
		return []Proc{s.Postgres.Proc}
	case n == Neo4j && s.Neo4j != nil:
		return []Proc{s.Neo4j.Proc}
	}
	return nil
}

// forgetDead drops server n from s when none of its processes runs, so
// that a failed start leaves nothing for Down to stop and Up can retry.
func (s *State) forgetDead(n Server) {
	for _, p := range s.procsOf(n) {
		if alive(p) {
			return
		}
	}
	switch n {
	case Kafka:
		s.Kafka = nil
	case Registry:
		s.Registry = nil
	case Connect:
		s.Connect = nil
	case Postgres:
		s.Postgres = nil
	case Neo4j:
		s.Neo4j = nil
	}
}

// StateFile is the name of the state file inside a run directory.
const StateFile = "servers.json"

// ReadState reads a state file. A missing file is an error wrapping
// os.ErrNotExist.
func ReadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read server state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode server state %s: %w", path, err)
	}
	return &s, nil
}

// write saves s as dir/servers.json atomically.
func (s *State) write(dir string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode server state: %w", err)
	}
	tmp := filepath.Join(dir, StateFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write server state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, StateFile)); err != nil {
		return fmt.Errorf("write server state: %w", err)
	}
	return nil
}

// readOrNew reads dir/servers.json, or returns an empty state for dir.
func readOrNew(dir string) (*State, error) {
	s, err := ReadState(filepath.Join(dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return &State{RunDir: dir, Started: time.Now().UTC()}, nil
	}
	return s, err
}

// Package distributed holds the tests of the distributed mode (DESIGN §9):
// two `watershed serve` processes on one Neo4j and one Kafka, the real
// servers of `make test-real`. `make test-distributed` runs them; they fail
// — never skip — when the servers or the replicas cannot start.
package distributed

package kafkalog_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/watershed-data/watershed/changelog/changelogtest"
	"github.com/watershed-data/watershed/internal/realservers"
)

// TestRealKafkaConformance runs the change-log suite against the real
// Kafka broker of `make test-real`, each case on its own topic and groups.
func TestRealKafkaConformance(t *testing.T) {
	st := realservers.Require(t, realservers.Kafka)
	run := time.Now().UnixNano()
	n := 0
	changelogtest.Run(t, changelogtest.Harness{New: func(t *testing.T) *changelogtest.Env {
		n++
		r := newRigOn(t, st.Kafka.Bootstrap, fmt.Sprintf("watershed.changes.test-%d-%d", run, n), fmt.Sprintf("watershed.test-%d-%d.", run, n))
		return &changelogtest.Env{
			Runner:  r.runner(),
			Restart: func(t *testing.T) changelogtest.Runner { return r.runner() },
			Append:  r.append,
		}
	}})
}

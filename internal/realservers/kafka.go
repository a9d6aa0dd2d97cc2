package realservers

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaJava is the JDK major version the Kafka broker and Connect need.
const kafkaJava = 17

// upKafka formats and starts Brokers KRaft nodes one after the other: node
// 0 is broker and controller (a static one-voter quorum), the others are
// brokers. A StandardAuthorizer is on, with every PLAINTEXT client a super
// user, so that ACLs can be created and described as on a secured cluster.
func (l *Launcher) upKafka(ctx context.Context, st *State) error {
	if err := l.prepareLogs(); err != nil {
		return err
	}
	home, err := javaHome(kafkaJava)
	if err != nil {
		return err
	}
	cp, err := l.fetch.classpath("kafka")
	if err != nil {
		return err
	}
	argfile, err := l.writeArgFile("kafka", cp)
	if err != nil {
		return err
	}
	n := l.o.Brokers
	ports, err := freePorts(n + 1)
	if err != nil {
		return err
	}
	controller := ports[n]
	info := &KafkaInfo{ClusterID: kafkaUUID(), Brokers: n, Version: l.pomProperty("kafka", "kafka")}
	for i := 0; i < n; i++ {
		info.Bootstrap = append(info.Bootstrap, fmt.Sprintf("127.0.0.1:%d", ports[i]))
	}
	java := filepath.Join(home, "bin", "java")
	log4j := "-Dlog4j2.configurationFile=" + filepath.Join(l.o.InfraDir, "kafka", "log4j2.properties")
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("kafka-%d", i)
		dir := filepath.Join(l.o.RunDir, name)
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		props := filepath.Join(dir, "server.properties")
		if err := os.WriteFile(props, []byte(kafkaProperties(i, ports[i], controller, filepath.Join(dir, "data"))), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", props, err)
		}
		data := filepath.Join(dir, "data")
		if i == 0 {
			// kafka-storage format: meta.properties and the bootstrap
			// metadata checkpoint the controller starts from.
			format := exec.CommandContext(ctx, java, append(append(jvmFlags("256m"), log4j, argfile),
				"kafka.tools.StorageTool", "format", "-t", info.ClusterID, "-c", props)...)
			if out, err := format.CombinedOutput(); err != nil {
				return fmt.Errorf("format storage of %s: %w\n%s", name, err, lastLines(string(out), 30))
			}
		} else if err := formatLike(filepath.Join(l.o.RunDir, "kafka-0", "data"), data, i, info.ClusterID); err != nil {
			// What format writes for a broker, without a JVM start per node.
			return fmt.Errorf("format storage of %s: %w", name, err)
		}
		p, err := spawn(name, l.marker(), l.logPath(name), nil, java,
			append(append(jvmFlags("384m"), l.marker(), log4j, argfile), "kafka.Kafka", props)...)
		if err != nil {
			return err
		}
		addr := info.Bootstrap[i]
		want := i + 1
		err = p.waitReady(ctx, 2*time.Minute, func(ctx context.Context) error { return kafkaReady(ctx, addr, want) })
		info.Procs = append(info.Procs, p.proc)
		st.Kafka = info // record what runs even when a later node fails
		if err != nil {
			return err
		}
	}
	return nil
}

func kafkaProperties(node, port, controller int, data string) string {
	roles := "broker"
	listeners := fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", port)
	if node == 0 {
		roles = "broker,controller"
		listeners += fmt.Sprintf(",CONTROLLER://127.0.0.1:%d", controller)
	}
	return strings.Join([]string{
		"process.roles=" + roles,
		fmt.Sprintf("node.id=%d", node),
		fmt.Sprintf("controller.quorum.voters=0@127.0.0.1:%d", controller),
		"listeners=" + listeners,
		fmt.Sprintf("advertised.listeners=PLAINTEXT://127.0.0.1:%d", port),
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"controller.listener.names=CONTROLLER",
		"inter.broker.listener.name=PLAINTEXT",
		"log.dirs=" + data,
		"num.partitions=1",
		"default.replication.factor=1",
		// One broker must be enough for the internal topics, or groups
		// (and so Connect) never work.
		"offsets.topic.replication.factor=1",
		"offsets.topic.num.partitions=3",
		"transaction.state.log.replication.factor=1",
		"transaction.state.log.min.isr=1",
		"transaction.state.log.num.partitions=3",
		"share.coordinator.state.topic.replication.factor=1",
		"share.coordinator.state.topic.min.isr=1",
		"share.coordinator.state.topic.num.partitions=3",
		"group.initial.rebalance.delay.ms=0",
		// KIP-848 groups heartbeat every 5s by default; tests wait less.
		"group.consumer.min.heartbeat.interval.ms=500",
		"group.consumer.heartbeat.interval.ms=500",
		"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users=User:ANONYMOUS",
		"allow.everyone.if.no.acl.found=true",
		"log.segment.bytes=16777216",
		"",
	}, "\n")
}

// kafkaReady asks addr for cluster metadata and wants brokers brokers and
// a controller in it.
func kafkaReady(ctx context.Context, addr string, brokers int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID("watershed-infra"), kgo.RequestRetries(0))
	if err != nil {
		return err
	}
	defer cl.Close()
	m, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	if len(m.Brokers) < brokers || m.Controller < 0 {
		return fmt.Errorf("metadata lists %d of %d brokers, controller %d", len(m.Brokers), brokers, m.Controller)
	}
	return nil
}

// httpReady GETs url and wants status 200.
func httpReady(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// formatLike formats the log dir of broker node as kafka-storage format
// would (one JVM start less per broker on a 2-core machine): the bootstrap
// checkpoint of the formatted node 0, and a meta.properties (version 1,
// Kafka 3.7+) with this node's id and a fresh directory id.
func formatLike(formatted, data string, node int, clusterID string) error {
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(formatted, "bootstrap.checkpoint"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(data, "bootstrap.checkpoint"), b, 0o644); err != nil {
		return err
	}
	meta := fmt.Sprintf("version=1\ncluster.id=%s\nnode.id=%d\ndirectory.id=%s\n", clusterID, node, kafkaUUID())
	return os.WriteFile(filepath.Join(data, "meta.properties"), []byte(meta), 0o644)
}

package demo_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/watershed-data/watershed/internal/demo"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"), goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

// TestEstateIsAlive starts the estate with traffic and checks what a
// crawler will find: topics, registered subjects, connectors, and consumer
// groups whose committed offsets move.
func TestEstateIsAlive(t *testing.T) {
	ctx := context.Background()
	e, err := demo.Start(ctx, demo.Options{Interval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Bootstrap...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	td, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cdc.shop.customers", "orders.enriched", "payments.payments.card_payments", "outbox.event.Order"} {
		if !td.Has(want) {
			t.Errorf("topic %s missing", want)
		}
	}
	if n := len(e.Connect.ConnectorNames()); n != 9 {
		t.Errorf("%d connectors, want 9", n)
	}
	if !e.Registry.SubjectExists("cdc.shop.customers-value") {
		t.Error("subject cdc.shop.customers-value missing")
	}
	// Committed offsets appear and grow.
	committed := func(group string) int64 {
		resp, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return -1
		}
		var sum int64
		resp.Each(func(o kadm.OffsetResponse) { sum += o.At })
		return sum
	}
	deadline := time.Now().Add(20 * time.Second)
	var first int64
	for time.Now().Before(deadline) {
		if first = committed("fraud-detector"); first > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if first <= 0 {
		t.Fatal("fraud-detector never committed")
	}
	for time.Now().Before(deadline) {
		if committed("fraud-detector") > first {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("fraud-detector's committed offsets did not move")
}

// TestGroupsExistBeforeTraffic checks that a crawl right after Start sees
// every consumer group with committed offsets, even without live consumers.
func TestGroupsExistBeforeTraffic(t *testing.T) {
	ctx := context.Background()
	e, err := demo.Start(ctx, demo.Options{NoTraffic: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Bootstrap...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, g := range []string{"fraud-detector", "analytics", "email-notifier", "order-enricher"} {
		resp, err := adm.FetchOffsets(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		var lagging bool
		resp.Each(func(o kadm.OffsetResponse) {
			if o.At > 0 {
				lagging = true
			}
		})
		if !lagging {
			t.Errorf("group %s has no committed offsets", g)
		}
	}
}

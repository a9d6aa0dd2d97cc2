package crawlers_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/crawlers"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scripted is a crawler config whose crawler runs a function.
type scripted struct {
	fn func(ctx context.Context) (catalog.Snapshot, error)
}

func (s *scripted) Validate() error { return nil }
func (s *scripted) New(crawlers.Env) (crawlers.Crawler, error) {
	return crawlers.CrawlerFunc(s.fn), nil
}

func openStore(t *testing.T) *embedded.Store {
	t.Helper()
	s, err := embedded.Open(embedded.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func topics(names ...string) catalog.Snapshot {
	var s catalog.Snapshot
	for _, n := range names {
		s.Assets = append(s.Assets, catalog.Asset{URN: catalog.MakeURN(catalog.KindTopic, "c/"+n), Scope: "topic/" + n})
	}
	return s
}

func newManager(t *testing.T, store *embedded.Store, schedule string, fn func(context.Context) (catalog.Snapshot, error)) *crawlers.Manager {
	t.Helper()
	m, err := crawlers.NewManager(crawlers.ManagerOptions{
		Sources: []crawlers.SourceSpec{{Name: "c", Kind: "scripted", Schedule: schedule, Config: &scripted{fn: fn}}},
		Store:   store,
		Catalog: store,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCrawlRecordsRuns(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	var calls atomic.Int32
	m := newManager(t, store, "", func(ctx context.Context) (catalog.Snapshot, error) {
		switch calls.Add(1) {
		case 1:
			return topics("orders", "payments"), nil
		case 2:
			return catalog.Snapshot{}, errors.New("dial tcp 10.0.0.1:9092: connection refused")
		case 3:
			s := topics("orders")
			s.Incomplete = map[string]string{"topic/payments": "no leader for partition 0"}
			return s, nil
		default:
			panic("crawler bug")
		}
	})
	run, err := m.Crawl(ctx, "c", "manual")
	if err != nil || run.Status != catalog.CrawlSucceeded || run.Result.Created != 2 || run.Counts["TOPIC"] != 2 {
		t.Fatalf("first crawl: %+v, %v", run, err)
	}
	run, err = m.Crawl(ctx, "c", "manual")
	if err == nil || run.Status != catalog.CrawlFailed || run.Errors[0] != "dial tcp 10.0.0.1:9092: connection refused" {
		t.Fatalf("failing crawl: %+v, %v", run, err)
	}
	if e, err := store.Entity(ctx, "urn:topic:c/payments"); err != nil || e.Deleted() {
		t.Fatalf("a failed crawl deleted data: %+v %v", e, err)
	}
	run, err = m.Crawl(ctx, "c", "manual")
	if err != nil || run.Status != catalog.CrawlPartial || run.Result.Kept != 1 || run.Errors[0] != "topic/payments: no leader for partition 0" {
		t.Fatalf("partial crawl: %+v, %v", run, err)
	}
	if e, _ := store.Entity(ctx, "urn:topic:c/payments"); e.Deleted() {
		t.Fatal("incomplete topic was deleted")
	}
	run, err = m.Crawl(ctx, "c", "manual")
	if err == nil || run.Status != catalog.CrawlFailed {
		t.Fatalf("panicking crawler: %+v, %v", run, err)
	}
	runs, err := store.CrawlRuns(ctx, "c", 10)
	if err != nil {
		t.Fatal(err)
	}
	var statuses []catalog.CrawlStatus
	for _, r := range runs {
		statuses = append(statuses, r.Status)
	}
	want := []catalog.CrawlStatus{catalog.CrawlFailed, catalog.CrawlPartial, catalog.CrawlFailed, catalog.CrawlSucceeded}
	if len(statuses) != 4 || statuses[0] != want[0] || statuses[1] != want[1] || statuses[2] != want[2] || statuses[3] != want[3] {
		t.Fatalf("recorded runs %v, want %v", statuses, want)
	}
	if st := m.Sources()[0]; st.LastRun == nil || st.LastRun.Status != catalog.CrawlFailed || st.Running {
		t.Errorf("source status = %+v", st)
	}
	if _, err := m.Crawl(ctx, "nope", "manual"); !catalog.IsNotFound(err) {
		t.Errorf("unknown source: %v", err)
	}
}

func TestOneCrawlPerSourceAtATime(t *testing.T) {
	store := openStore(t)
	release := make(chan struct{})
	started := make(chan struct{})
	m := newManager(t, store, "", func(ctx context.Context) (catalog.Snapshot, error) {
		close(started)
		<-release
		return topics("a"), nil
	})
	done := make(chan error)
	go func() {
		_, err := m.Crawl(context.Background(), "c", "manual")
		done <- err
	}()
	<-started
	if !m.Sources()[0].Running {
		t.Error("source not reported running")
	}
	if _, err := m.Crawl(context.Background(), "c", "manual"); catalog.KindOf(err) != catalog.Conflict {
		t.Errorf("second concurrent crawl: %v, want Conflict", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestScheduledCrawls(t *testing.T) {
	store := openStore(t)
	var calls atomic.Int32
	m := newManager(t, store, "@every 1s", func(ctx context.Context) (catalog.Snapshot, error) {
		calls.Add(1)
		return topics("a"), nil
	})
	if next := m.Sources()[0].NextRun; !next.IsZero() {
		t.Errorf("next run before start = %v", next)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	deadline := time.Now().Add(15 * time.Second)
	for calls.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if m.Sources()[0].NextRun.IsZero() {
		t.Error("no next run while scheduled")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if calls.Load() < 3 {
		t.Fatalf("only %d crawls (startup + schedule) in 15s", calls.Load())
	}
	runs, err := store.CrawlRuns(context.Background(), "c", 100)
	if err != nil {
		t.Fatal(err)
	}
	triggers := map[string]int{}
	for _, r := range runs {
		triggers[r.Trigger]++
	}
	if triggers["startup"] != 1 || triggers["schedule"] < 2 {
		t.Errorf("triggers = %v", triggers)
	}
	// Re-crawls of an unchanged source wrote no catalog changes.
	for _, r := range runs[:len(runs)-1] {
		if r.Result.Changes != 0 {
			t.Errorf("unchanged re-crawl wrote %d changes", r.Result.Changes)
		}
	}
}

func TestBadSchedule(t *testing.T) {
	_, err := crawlers.NewManager(crawlers.ManagerOptions{Sources: []crawlers.SourceSpec{{Name: "c", Schedule: "every day", Config: &scripted{}}}})
	if catalog.KindOf(err) != catalog.Invalid {
		t.Fatalf("bad schedule: %v", err)
	}
}

// A re-crawl of an unchanged estate writes no change event (DESIGN §4), yet
// every run is listed in crawlRuns; a failure writes crawl.failed and the
// next successful run crawl.recovered.
func TestUnchangedCrawlWritesNoEvent(t *testing.T) {
	store := openStore(t)
	ctx := context.Background()
	var fail atomic.Bool
	m := newManager(t, store, "", func(ctx context.Context) (catalog.Snapshot, error) {
		if fail.Load() {
			return catalog.Snapshot{}, errors.New("dial tcp 10.0.0.1:9092: connection refused")
		}
		return topics("orders", "payments"), nil
	})
	crawlEvents := func(after uint64) []string {
		t.Helper()
		cs, err := store.Changes(ctx, after, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range cs {
			if strings.HasPrefix(string(c.Type), "crawl.") {
				out = append(out, string(c.Type)+" "+string(c.Subject))
			}
		}
		return out
	}
	if _, err := m.Crawl(ctx, "c", "startup"); err != nil {
		t.Fatal(err)
	}
	if got := crawlEvents(0); len(got) != 1 || !strings.HasPrefix(got[0], "crawl.completed urn:crawl:c/") {
		t.Fatalf("first crawl events = %v", got)
	}
	head, _ := store.LastSeq(ctx)
	for range 3 {
		if run, err := m.Crawl(ctx, "c", "schedule"); err != nil || run.Result.Changes != 0 {
			t.Fatalf("re-crawl: %+v, %v", run, err)
		}
	}
	if now, _ := store.LastSeq(ctx); now != head {
		t.Errorf("three unchanged re-crawls wrote %d change events", now-head)
	}
	fail.Store(true)
	if _, err := m.Crawl(ctx, "c", "schedule"); err == nil {
		t.Fatal("the failing crawl succeeded")
	}
	fail.Store(false)
	if _, err := m.Crawl(ctx, "c", "schedule"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Crawl(ctx, "c", "schedule"); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range crawlEvents(head) {
		types = append(types, strings.Fields(ev)[0])
	}
	if strings.Join(types, ",") != "crawl.failed,crawl.recovered" {
		t.Errorf("events after the failure = %v, want crawl.failed, crawl.recovered", types)
	}
	runs, err := store.CrawlRuns(ctx, "c", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 7 {
		t.Errorf("%d runs recorded, want 7", len(runs))
	}
}

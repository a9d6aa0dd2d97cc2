// Command webhooks benchmarks signed webhook delivery on this machine: a
// real embedded store, the change log, the webhooks stage with its own queue
// DB, and a local HTTP receiver that verifies every signature with the
// Standard Webhooks library.
//
//	go run ./bench/webhooks [-burst 20000] [-rate 500] [-seconds 10] [-json FILE]
//
// Two phases: a burst (changes committed in batches of 500, as a crawl
// commits them; deliveries/s from the first commit to the last delivery) and a steady rate
// (commit → first attempt latency, p50 and p99, measured from the change's
// commit time to the receiver's arrival).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/changelog"
	"github.com/watershed-data/watershed/webhooks"
)

type result struct {
	DeliveriesPerS       float64 `json:"deliveries_per_s"`
	CommitToAttemptP50ms float64 `json:"commit_to_attempt_p50_ms"`
	CommitToAttemptP99ms float64 `json:"commit_to_attempt_p99_ms"`
	Burst                int     `json:"burst"`
	Rate                 int     `json:"rate_per_s"`
	Verified             int64   `json:"verified"`
	BadSignatures        int64   `json:"bad_signatures"`
}

func main() {
	burst := flag.Int("burst", 20000, "changes in the throughput phase")
	rate := flag.Int("rate", 500, "changes per second in the latency phase")
	seconds := flag.Int("seconds", 10, "length of the latency phase")
	jsonOut := flag.String("json", "", "write the figures as JSON to this file")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	res, err := run(*burst, *rate, *seconds)
	if err != nil {
		log.Print(err)
		return
	}
	fmt.Printf("| measure | value | bar |\n|---|---|---|\n")
	fmt.Printf("| signed deliveries/s (burst of %d) | %.0f | ≥ 3000 |\n", res.Burst, res.DeliveriesPerS)
	fmt.Printf("| commit → first attempt p50 (%d/s) | %.1f ms | |\n", res.Rate, res.CommitToAttemptP50ms)
	fmt.Printf("| commit → first attempt p99 (%d/s) | %.1f ms | ≤ 250 ms |\n", res.Rate, res.CommitToAttemptP99ms)
	fmt.Printf("| signatures verified / bad | %d / %d | 0 bad |\n", res.Verified, res.BadSignatures)
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

func run(burst, rate, seconds int) (result, error) {
	res := result{Burst: burst, Rate: rate}
	dir, err := os.MkdirTemp("", "bench-webhooks-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	st, err := embedded.Open(embedded.Options{Dir: dir + "/catalog"})
	if err != nil {
		return res, err
	}
	defer st.Close()
	q, err := webhooks.OpenQueue(dir + "/webhooks")
	if err != nil {
		return res, err
	}
	defer q.Close()
	cl := changelog.New(changelog.Options{Log: st, Cursors: st})
	svc := webhooks.New(webhooks.Options{Queue: q, Catalog: st, Subscriber: cl,
		Guard: &webhooks.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})

	var secret atomic.Value
	var verified, bad atomic.Int64
	var mu sync.Mutex
	arrived := map[uint64]time.Time{}
	var count atomic.Int64 // distinct changes delivered
	var lastArrival time.Time
	notify := make(chan struct{}, 1)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		body, _ := io.ReadAll(r.Body)
		wh, _ := standardwebhooks.NewWebhook(secret.Load().(string))
		if err := wh.Verify(body, r.Header); err != nil {
			bad.Add(1)
		} else {
			verified.Add(1)
		}
		var ce changelog.CloudEvent
		if json.Unmarshal(body, &ce) == nil {
			var seq uint64
			fmt.Sscan(ce.ID, &seq)
			mu.Lock()
			if _, dup := arrived[seq]; !dup {
				arrived[seq] = at
				if at.After(lastArrival) {
					lastArrival = at
				}
				count.Add(1)
			}
			mu.Unlock()
			select {
			case notify <- struct{}{}:
			default:
			}
		}
		w.WriteHeader(204)
	}))
	defer rc.Close()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := cl.WaitHandled(ctx, webhooks.SubscriptionName, 0); err != nil {
		return res, err
	}
	url := rc.URL + "/hook"
	_, sec, err := svc.Create(ctx, webhooks.EndpointInput{URL: &url, Types: []string{"asset.created"}})
	if err != nil {
		return res, err
	}
	secret.Store(sec)

	write := func(i int) (catalog.Change, error) {
		ch, err := st.Apply(ctx, catalog.Batch{Mutations: []catalog.Mutation{catalog.RegisterAsset{URN: catalog.URN(fmt.Sprintf("urn:dataset:s3://bench/%d", i))}}})
		if err != nil {
			return catalog.Change{}, err
		}
		return ch[0], nil
	}
	// waitAll waits until total distinct changes have arrived and returns
	// the last arrival.
	waitAll := func(total int64, within time.Duration) (time.Time, error) {
		deadline := time.After(within)
		for count.Load() < total {
			select {
			case <-notify:
			case <-time.After(20 * time.Millisecond):
			case <-deadline:
				return time.Time{}, fmt.Errorf("%d of %d deliveries arrived", count.Load(), total)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		return lastArrival, nil
	}

	// Phase 1: a burst, committed as a crawl would (batches of 500), so
	// the figure is the delivery rate, not the store's commit rate.
	var seqs []uint64
	first := time.Now()
	for i := 0; i < burst; i += 500 {
		var muts []catalog.Mutation
		for j := i; j < i+500 && j < burst; j++ {
			muts = append(muts, catalog.RegisterAsset{URN: catalog.URN(fmt.Sprintf("urn:dataset:s3://bench/%d", j))})
		}
		chs, err := st.Apply(ctx, catalog.Batch{Mutations: muts})
		if err != nil {
			return res, err
		}
		for _, c := range chs {
			seqs = append(seqs, c.Seq)
		}
	}
	last, err := waitAll(int64(len(seqs)), 5*time.Minute)
	if err != nil {
		return res, fmt.Errorf("burst: %w", err)
	}
	res.DeliveriesPerS = float64(burst) / last.Sub(first).Seconds()

	// Phase 2: a steady rate; latency from commit time to arrival.
	n := rate * seconds
	commits := make(map[uint64]time.Time, n)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	var lseqs []uint64
	for i := 0; i < n; i++ {
		<-tick.C
		ch, err := write(burst + i)
		if err != nil {
			return res, err
		}
		commits[ch.Seq] = ch.Time
		lseqs = append(lseqs, ch.Seq)
	}
	tick.Stop()
	if _, err := waitAll(int64(len(seqs)+len(lseqs)), time.Minute); err != nil {
		return res, fmt.Errorf("steady rate: %w", err)
	}
	var lat []float64
	mu.Lock()
	for _, s := range lseqs {
		lat = append(lat, float64(arrived[s].Sub(commits[s]))/float64(time.Millisecond))
	}
	mu.Unlock()
	sort.Float64s(lat)
	res.CommitToAttemptP50ms = lat[len(lat)/2]
	res.CommitToAttemptP99ms = lat[len(lat)*99/100]
	res.Verified, res.BadSignatures = verified.Load(), bad.Load()
	return res, nil
}

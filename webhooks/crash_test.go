package webhooks

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/changelog"
)

const childEnv = "WATERSHED_WEBHOOK_CRASH_CHILD"

// childMain is the crash test's child process: it serves the webhooks stage
// on a data dir until it is killed, printing "ready <endpoint id>".
func childMain() bool {
	spec := os.Getenv(childEnv)
	if spec == "" {
		return false
	}
	dir, url, _ := strings.Cut(spec, "|")
	st, err := embedded.Open(embedded.Options{Dir: dir + "/catalog"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open store:", err)
		os.Exit(2)
	}
	q, err := OpenQueue(dir + "/webhooks")
	if err != nil {
		fmt.Fprintln(os.Stderr, "open queue:", err)
		os.Exit(2)
	}
	cl := changelog.New(changelog.Options{Log: st, Cursors: st})
	svc := New(Options{Queue: q, Catalog: st, Subscriber: cl, Guard: loopbackGuard(), Retry: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}, Concurrency: 4})
	ctx := context.Background()
	go func() {
		if err := svc.Run(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "run:", err)
			os.Exit(2)
		}
	}()
	if err := cl.WaitHandled(ctx, SubscriptionName, 0); err != nil {
		os.Exit(2)
	}
	eps := svc.Endpoints(ctx)
	id := ""
	if len(eps) == 0 {
		ep, _, err := svc.Create(ctx, EndpointInput{URL: &url, Types: []string{"asset.*"}})
		if err != nil {
			fmt.Fprintln(os.Stderr, "create:", err)
			os.Exit(2)
		}
		id = ep.ID
	} else {
		id = eps[0].ID
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "ready", id)
	out.Flush()
	// Write changes until killed, printing each acknowledged one.
	for i := 0; ; i++ {
		u := catalog.URN(fmt.Sprintf("urn:dataset:s3://crash/%d-%d", os.Getpid(), i))
		ch, err := st.Apply(ctx, catalog.Batch{Mutations: []catalog.Mutation{catalog.RegisterAsset{URN: u}}})
		if err != nil {
			os.Exit(3)
		}
		fmt.Fprintln(out, "wrote", ch[0].Seq)
		out.Flush()
		time.Sleep(2 * time.Millisecond)
	}
}

// TestKillNineMidBacklogLosesNothing kills the server with SIGKILL while a
// flaky receiver has a backlog, restarts it, and checks that every
// acknowledged change is delivered, with the webhook-id derived from it.
func TestKillNineMidBacklogLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills child processes")
	}
	var mu sync.Mutex
	delivered := map[string]int{}
	tries := map[string]int{}
	rc := newReceiver(t, func(_ int, r *http.Request) (int, map[string]string) {
		mu.Lock()
		defer mu.Unlock()
		id := r.Header.Get("webhook-id")
		tries[id]++
		// The first attempt at every third message fails, so retries are
		// in the backlog when the server is killed.
		if seq, _ := strconv.Atoi(id[strings.LastIndexByte(id, '_')+1:]); seq%3 == 0 && tries[id] == 1 {
			return 500, nil
		}
		delivered[id]++
		return 200, nil
	})
	dir := t.TempDir()
	var id string
	var acked []uint64
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+dir+"|"+rc.srv.URL+"/hook")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		wrote := 0
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch f[0] {
			case "ready":
				id = f[1]
			case "wrote":
				seq, _ := strconv.ParseUint(f[1], 10, 64)
				acked = append(acked, seq)
				wrote++
			}
			if wrote == 60 {
				break
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	// A last run without writes drains the backlog.
	st, err := embedded.Open(embedded.Options{Dir: dir + "/catalog"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := OpenQueue(dir + "/webhooks")
	if err != nil {
		t.Fatal(err)
	}
	cl := changelog.New(changelog.Options{Log: st, Cursors: st})
	svc := New(Options{Queue: q, Catalog: st, Subscriber: cl, Guard: loopbackGuard(), Retry: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		q.Close()
		st.Close()
	}()
	missing := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, seq := range acked {
			if delivered[fmt.Sprintf("msg_%s_%d", id, seq)] == 0 {
				out = append(out, strconv.FormatUint(seq, 10))
			}
		}
		return out
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(missing()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if m := missing(); len(m) > 0 {
		t.Fatalf("%d of %d acknowledged changes never delivered: %v", len(m), len(acked), m)
	}
	mu.Lock()
	defer mu.Unlock()
	extra := 0
	for wid := range delivered {
		if !strings.HasPrefix(wid, "msg_"+id+"_") {
			extra++
		}
	}
	if extra > 0 {
		t.Errorf("%d deliveries with foreign webhook-ids", extra)
	}
	t.Logf("%d acknowledged changes across 3 SIGKILLs, all delivered; %d distinct webhook-ids", len(acked), len(delivered))
}

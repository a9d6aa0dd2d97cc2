package lineage_test

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/changelog"
	"github.com/watershed-data/watershed/lineage"
)

var crashRounds = flag.Int("crash.rounds", 4, "SIGKILL rounds in TestKilledMidBatchConverges")

const (
	crashDirEnv  = "WATERSHED_PROPAGATION_CHILD_DIR"
	crashSeedEnv = "WATERSHED_PROPAGATION_CHILD_SEED" // "settle" waits for propagation and exits
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		os.Exit(crashChild(dir, os.Getenv(crashSeedEnv)))
	}
	code := m.Run()
	if fanOutDir != "" {
		os.RemoveAll(fanOutDir)
	}
	os.Exit(code)
}

// printingWriter reports every committed write on stdout, so the parent
// can kill the child in the middle of a batch of writes.
type printingWriter struct {
	s   *embedded.Store
	out *bufio.Writer
}

func (w printingWriter) Apply(ctx context.Context, b catalog.Batch) ([]catalog.Change, error) {
	cs, err := w.s.Apply(ctx, b)
	if err == nil {
		fmt.Fprintf(w.out, "wrote %d\n", len(b.Mutations))
		w.out.Flush()
	}
	return cs, err
}

// crashChild runs the Propagator on the store in dir while applying random
// operations (seed), until it is killed; with seed "settle" it applies
// nothing, waits until propagation has handled the whole log, and exits 0.
func crashChild(dir, seed string) int {
	s, err := embedded.Open(embedded.Options{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := bufio.NewWriter(os.Stdout)
	ch := changelog.New(changelog.Options{Log: s, Cursors: s, BatchSize: 8})
	p := lineage.New(lineage.Options{Graph: s, Writer: printingWriter{s, out}, Subscriber: ch, Resync: -1, ChunkSize: 25})
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	fmt.Fprintln(out, "started")
	out.Flush()
	if seed == "settle" {
		head, err := s.LastSeq(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "head:", err)
			return 2
		}
		wctx, wcancel := context.WithTimeout(ctx, time.Minute)
		defer wcancel()
		if err := ch.WaitHandled(wctx, lineage.SubscriptionName, head); err != nil {
			fmt.Fprintln(os.Stderr, "settle:", err)
			return 3
		}
		cancel()
		<-done
		if err := s.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "close:", err)
			return 2
		}
		fmt.Fprintln(out, "settled")
		out.Flush()
		return 0
	}
	n, _ := strconv.ParseInt(seed, 10, 64)
	rng := rand.New(rand.NewSource(n))
	u := newUniverse()
	for i := 0; ; i++ {
		select {
		case err := <-done:
			fmt.Fprintln(os.Stderr, "propagator stopped:", err)
			return 4
		default:
		}
		var muts []catalog.Mutation
		if i%7 == 0 {
			// Flip the classification of the fan-out's root: thousands of
			// writes in many chunks.
			if rng.Intn(2) == 0 {
				muts = []catalog.Mutation{catalog.Classify{URN: fanRoot, Classification: "PII.Email"}}
			} else {
				muts = []catalog.Mutation{catalog.Declassify{URN: fanRoot, Classification: "PII.Email"}}
			}
		} else {
			_, muts = u.op(rng)
		}
		if len(muts) == 0 {
			continue
		}
		if _, err := s.Apply(ctx, catalog.Batch{Actor: "user:crash", Mutations: muts}); err != nil && catalog.KindOf(err) == catalog.Unavailable {
			fmt.Fprintln(os.Stderr, "apply:", err)
			return 5
		}
		time.Sleep(time.Duration(rng.Intn(3)) * time.Millisecond)
	}
}

const fanRoot = catalog.URN("urn:field:p/root/value/email")

// fanOut is a root field feeding 20 topics of 30 fields each.
func fanOut() []catalog.Mutation {
	muts := []catalog.Mutation{catalog.RegisterAsset{URN: "urn:topic:p/root"}, catalog.RegisterAsset{URN: fanRoot},
		catalog.AddLineage{From: "urn:topic:p/root", To: fanRoot, Kind: catalog.EdgeContains}}
	for i := 0; i < 20; i++ {
		t := catalog.URN(fmt.Sprintf("urn:topic:p/fan%02d", i))
		muts = append(muts, catalog.RegisterAsset{URN: t})
		for j := 0; j < 30; j++ {
			f := catalog.URN(fmt.Sprintf("urn:field:p/fan%02d/value/f%02d", i, j))
			muts = append(muts, catalog.RegisterAsset{URN: f},
				catalog.AddLineage{From: t, To: f, Kind: catalog.EdgeContains},
				catalog.AddLineage{From: fanRoot, To: f, Kind: catalog.EdgeDerives})
		}
	}
	return muts
}

// TestKilledMidBatchConverges kills the propagation handler with SIGKILL in
// the middle of its writes, several times, while operations keep arriving,
// then restarts it and checks that the catalog converges to the state a
// recomputation from scratch gives: no lost attachment, no phantom one.
func TestKilledMidBatchConverges(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns and kills child processes; skipped in -short mode")
	}
	dir := t.TempDir()
	s, err := embedded.Open(embedded.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	u := newUniverse()
	ctx := context.Background()
	if _, err := s.Apply(ctx, catalog.Batch{Mutations: append(u.setup(), fanOut()...)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("crash seed %d", seed)
	killedMidWrite := 0
	for round := 0; round < *crashRounds; round++ {
		c := startChild(t, dir, strconv.FormatInt(seed+int64(round), 10))
		// Kill after a random number of committed writes.
		target := 3 + rng.Intn(40)
		writes := 0
		deadline := time.After(20 * time.Second)
	read:
		for {
			select {
			case l, ok := <-c.lines:
				if !ok {
					t.Fatalf("round %d: child exited early: %s", round, c.wait())
				}
				if strings.HasPrefix(l, "wrote ") {
					writes++
					if writes >= target {
						break read
					}
				}
			case <-deadline:
				break read
			}
		}
		if writes >= target {
			killedMidWrite++
		}
		c.kill()
	}
	c := startChild(t, dir, "settle")
	settled := false
	for l := range c.lines {
		if l == "settled" {
			settled = true
		}
	}
	if msg := c.wait(); !settled {
		t.Fatalf("final child did not settle: %s", msg)
	}
	if killedMidWrite == 0 {
		t.Errorf("no round was killed in the middle of propagation writes")
	}
	s, err = embedded.Open(embedded.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := lineage.Stored(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	want, err := lineage.Desired(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if d := lineage.Diff(got, want); len(d) > 0 {
		n := min(len(d), 20)
		t.Errorf("after %d kills the state differs from a recomputation (%d differences):\n  %s", *crashRounds, len(d), strings.Join(d[:n], "\n  "))
	}
	t.Logf("%d rounds (%d killed mid-write), %d propagated attachments", *crashRounds, killedMidWrite, len(got))
}

// child is a running crash child.
type child struct {
	cmd    *exec.Cmd
	lines  chan string // its stdout, closed when it exits
	stderr *strings.Builder
	done   bool
	status string
}

// startChild runs the child process on dir with seed.
func startChild(t *testing.T, dir, seed string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashSeedEnv+"="+seed)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, lines: make(chan string, 1024), stderr: &strings.Builder{}}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(func() {
		if !c.done {
			c.kill()
		}
	})
	return c
}

// wait reaps the child and describes how it ended.
func (c *child) wait() string {
	if !c.done {
		c.done = true
		for range c.lines {
		}
		err := c.cmd.Wait()
		c.status = fmt.Sprintf("%v; stderr: %s", err, c.stderr.String())
	}
	return c.status
}

// kill sends SIGKILL and reaps the child.
func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.wait()
}

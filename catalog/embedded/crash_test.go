package embedded_test

import (
	"bufio"
	"context"
	"encoding/json"
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
)

var crashRounds = flag.Int("crash.rounds", 4, "SIGKILL rounds in TestCrashLosesNothing (CI runs a short crash test; try 100)")

const crashChildEnv = "WATERSHED_CRASH_CHILD_DIR"

// crashWriter is the child process: it writes forever, printing a line for
// every write acknowledged by the store, until it is killed.
func crashWriter(dir string) {
	s, err := embedded.Open(embedded.Options{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	out := bufio.NewWriter(os.Stdout)
	next := 0
	for {
		if _, err := s.Entity(ctx, crashURN(next)); err != nil {
			break
		}
		next++
	}
	round := 0
	if e, err := s.Entity(ctx, bulkURN(0)); err == nil {
		if r, ok := e.Properties["round"].(json.Number); ok {
			n, err := r.Int64()
			if err != nil {
				fmt.Fprintln(os.Stderr, "bad round:", err)
				os.Exit(2)
			}
			round = int(n) + 1
		}
	}
	for i := next; ; i++ {
		// A two-mutation batch: both changes and both events, or nothing.
		ch, err := s.Apply(ctx, catalog.Batch{Actor: "crash", Mutations: []catalog.Mutation{
			catalog.RegisterAsset{URN: crashURN(i), Properties: catalog.Properties{"i": i}},
			catalog.Classify{URN: crashURN(i), Classification: "PII"},
		}})
		if err != nil {
			fmt.Fprintln(os.Stderr, "apply:", err)
			os.Exit(3)
		}
		fmt.Fprintf(out, "ack %d %d\n", i, ch[len(ch)-1].Seq)
		out.Flush()
		if i%10 == 0 {
			// A large reconcile: all 300 assets move to the next round at once.
			snap := catalog.Snapshot{Source: "bulk"}
			for j := 0; j < 300; j++ {
				snap.Assets = append(snap.Assets, catalog.Asset{URN: bulkURN(j), Properties: catalog.Properties{"round": round, "pad": strings.Repeat("x", 200)}})
			}
			res, err := s.Reconcile(ctx, snap, nil)
			if err != nil {
				fmt.Fprintln(os.Stderr, "reconcile:", err)
				os.Exit(4)
			}
			fmt.Fprintf(out, "round %d %d\n", round, res.Seq)
			out.Flush()
			round++
		}
	}
}

func crashURN(i int) catalog.URN {
	return catalog.URN(fmt.Sprintf("urn:dataset:s3://crash/%06d", i))
}

func bulkURN(i int) catalog.URN { return catalog.URN(fmt.Sprintf("urn:dataset:s3://bulk/%03d", i)) }

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashWriter(dir)
		return
	}
	os.Exit(m.Run())
}

// TestCrashLosesNothing kills a writing child process with SIGKILL at random
// moments, reopens the store after each kill and checks that every
// acknowledged write and its change events are present, and that no write is
// half-present (an entity without its event, or a bulk reconcile applied to
// some assets only).
func TestCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test spawns processes; skipped in -short mode")
	}
	dir := t.TempDir()
	seed := time.Now().UnixNano()
	t.Logf("crash seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	ackedWrite, ackedRound := -1, -1
	var ackedSeq uint64
	for round := 0; round < *crashRounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Let the child open the store and write for a random while.
		deadline := time.After(time.Duration(50+rng.Intn(400)) * time.Millisecond)
		killed := false
		for !killed {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("child exited early: %v", stderr.String())
				}
				parseAck(t, l, &ackedWrite, &ackedRound, &ackedSeq)
			case <-deadline:
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
		for l := range lines { // acks printed before the kill landed
			parseAck(t, l, &ackedWrite, &ackedRound, &ackedSeq)
		}
		if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("child ended with %v, want killed by SIGKILL; stderr: %s", err, stderr.String())
		}
		verifyAfterCrash(t, dir, ackedWrite, ackedRound, ackedSeq)
	}
	if ackedWrite < 1 {
		t.Fatalf("child acknowledged only %d writes; the test exercised nothing", ackedWrite+1)
	}
	t.Logf("%d rounds, %d acknowledged batches, %d acknowledged bulk reconciles", *crashRounds, ackedWrite+1, ackedRound+1)
}

func parseAck(t *testing.T, line string, write, round *int, seq *uint64) {
	t.Helper()
	f := strings.Fields(line)
	if len(f) != 3 {
		t.Fatalf("bad child line %q", line)
	}
	n, err1 := strconv.Atoi(f[1])
	s, err2 := strconv.ParseUint(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("bad child line %q", line)
	}
	switch f[0] {
	case "ack":
		*write = n
	case "round":
		*round = n
	}
	if s > *seq {
		*seq = s
	}
}

func verifyAfterCrash(t *testing.T, dir string, ackedWrite, ackedRound int, ackedSeq uint64) {
	t.Helper()
	s, err := embedded.Open(embedded.Options{Dir: dir})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	ctx := context.Background()
	head, err := s.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head < ackedSeq {
		t.Fatalf("head %d < last acknowledged seq %d: acknowledged events lost", head, ackedSeq)
	}
	// Events: contiguous, and each crash write has exactly its two events.
	var all []catalog.Change
	for after := uint64(0); ; {
		page, err := s.Changes(ctx, after, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = page[len(page)-1].Seq
	}
	events := map[catalog.URN][]catalog.ChangeType{}
	for i, c := range all {
		if c.Seq != uint64(i+1) {
			t.Fatalf("change %d has seq %d: gap or duplicate", i, c.Seq)
		}
		events[c.Subject] = append(events[c.Subject], c.Type)
	}
	present := 0
	for i := 0; ; i++ {
		e, err := s.Entity(ctx, crashURN(i))
		if catalog.IsNotFound(err) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		present++
		if got := e.Properties["i"]; got != json.Number(strconv.Itoa(i)) || !e.HasClassification("PII") {
			t.Fatalf("write %d half-present: %+v", i, e)
		}
		evs := events[crashURN(i)]
		if len(evs) != 2 || evs[0] != catalog.AssetCreated || evs[1] != catalog.ClassificationAttached {
			t.Fatalf("write %d has events %v, want created+attached", i, evs)
		}
	}
	if present < ackedWrite+1 {
		t.Fatalf("only %d writes present, %d acknowledged: acknowledged writes lost", present, ackedWrite+1)
	}
	if _, err := s.Entity(ctx, crashURN(present+1)); !catalog.IsNotFound(err) {
		t.Fatalf("write %d present after missing %d", present+1, present)
	}
	// Bulk reconciles: every asset at the same round.
	var round json.Number
	for j := 0; j < 300; j++ {
		e, err := s.Entity(ctx, bulkURN(j))
		if catalog.IsNotFound(err) && ackedRound < 0 {
			return
		}
		if err != nil {
			t.Fatalf("bulk asset %d: %v", j, err)
		}
		r, _ := e.Properties["round"].(json.Number)
		if j == 0 {
			round = r
		} else if r != round {
			t.Fatalf("bulk reconcile half-applied: asset 0 at round %s, asset %d at round %s", round, j, r)
		}
	}
	if n, err := round.Int64(); err != nil || int(n) < ackedRound {
		t.Fatalf("bulk round %s < acknowledged %d", round, ackedRound)
	}
}

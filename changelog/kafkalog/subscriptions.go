package kafkalog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/changelog"
)

// Options configure Subscriptions.
type Options struct {
	// Brokers are the bootstrap servers; ClientOpts are added to every
	// client's options (TLS, SASL, test seams).
	Brokers    []string
	ClientOpts []kgo.Opt
	// Topic is the change-log topic; empty means DefaultTopic.
	Topic string
	// GroupPrefix is prepended to a subscription's name to form its
	// consumer group; empty means "watershed.".
	GroupPrefix string
	// Log is the store's own log: Start's head and Follow's catch-up read
	// it. Cursors is the store shared by the replicas: each group's start
	// position and the relay's position live there.
	Log     changelog.Log
	Cursors changelog.Cursors
	// Instance, when set, names this replica for static group membership
	// (KIP-345: member instance id Instance + "/" + the subscription): a
	// replica restarted after a crash takes its partitions back at once,
	// without waiting for its old session to time out.
	Instance string
	// SessionTimeout is how long a silent member (a dead replica) keeps
	// its partitions before the group hands them to the others; zero means
	// 15s.
	SessionTimeout time.Duration
	// BatchSize bounds a batch; zero means 256. MaxBackoff caps the delay
	// between retries; zero means 30s.
	BatchSize  int
	MaxBackoff time.Duration
	Logger     *slog.Logger
}

// Subscriptions runs changelog.Subscriptions as Kafka consumer groups over
// the change-log topic, one group per subscription name (GroupPrefix +
// Name). Replicas running the same name share its work: each partition,
// and so each subject, is handled by one of them at a time, and each entry
// once per group — at least once, since a replica that dies between
// handling a batch and committing it hands the batch to the next owner.
//
// Everything else is changelog.Changelog's contract: Start runs the first
// time a group starts (in whichever replica gets there first; the position
// it returns is kept in Cursors, and entries at or below it are skipped),
// Types filter, batches are retried with backoff up to MaxAttempts,
// Permanent and partial progress behave the same, and the group's offsets
// are committed after each batch. Order is per subject only: a batch holds
// what one poll returned, sorted by Seq. Subscription.Cursors is not used:
// the position is the group's committed offsets.
type Subscriptions struct {
	o       Options
	logger  *slog.Logger
	tracker *changelog.Tracker

	admOnce sync.Once
	admCl   *kgo.Client
	adm     *kadm.Client
	admErr  error
}

// New returns Subscriptions; it does no I/O.
func New(o Options) *Subscriptions {
	if o.Topic == "" {
		o.Topic = DefaultTopic
	}
	if o.GroupPrefix == "" {
		o.GroupPrefix = "watershed."
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.SessionTimeout <= 0 {
		o.SessionTimeout = 15 * time.Second
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Subscriptions{o: o, logger: logger.With("component", "kafkalog", "topic", o.Topic), tracker: changelog.NewTracker()}
}

// Close releases the admin connection WaitHandled and Follow use.
func (k *Subscriptions) Close() {
	if k.admCl != nil {
		k.admCl.Close()
	}
}

func (k *Subscriptions) admin() (*kadm.Client, error) {
	k.admOnce.Do(func() {
		k.admCl, k.admErr = kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(k.o.Brokers...)}, k.o.ClientOpts...)...)
		if k.admErr == nil {
			k.adm = kadm.NewClient(k.admCl)
		}
	})
	return k.adm, k.admErr
}

// Group returns the consumer group of subscription name.
func (k *Subscriptions) Group(name string) string { return k.o.GroupPrefix + name }

func startCursor(group string) string { return "kafkalog/start/" + group }

// Subscriptions returns the status of this replica's running
// subscriptions; Position is the newest entry this replica handled.
func (k *Subscriptions) Subscriptions() []changelog.SubscriptionStatus {
	return k.tracker.Subscriptions()
}

// polled is one decoded record of a poll.
type polled struct {
	e   changelog.Entry
	rec *kgo.Record
}

// Run follows s as a member of its consumer group until ctx ends, then
// returns ctx's error. Two concurrent runs of one name in one process are a
// Conflict; in different processes they share the work.
func (k *Subscriptions) Run(ctx context.Context, s changelog.Subscription) error {
	if s.Name == "" || s.Handle == nil {
		return catalog.Errorf(catalog.Invalid, "run subscription: a name and a handler are required")
	}
	st, err := k.tracker.Begin(s.Name)
	if err != nil {
		return err
	}
	defer st.End()
	group := k.Group(s.Name)
	logger := k.logger.With("subscription", s.Name, "group", group)
	floor, found, err := k.o.Cursors.LoadCursor(ctx, startCursor(group))
	if err != nil {
		return fmt.Errorf("load start of %s: %w", s.Name, err)
	}
	if !found {
		head, err := k.o.Log.LastSeq(ctx)
		if err != nil {
			return fmt.Errorf("read log head: %w", err)
		}
		floor = head
		if s.Start != nil {
			if floor, err = s.Start(ctx, head); err != nil {
				return fmt.Errorf("start subscription %s: %w", s.Name, err)
			}
		}
		if err := k.o.Cursors.SaveCursor(ctx, startCursor(group), floor); err != nil {
			return fmt.Errorf("save start of %s: %w", s.Name, err)
		}
	}
	st.Update(func(st *changelog.SubscriptionStatus) { st.Position, st.Bootstrapping = floor, false })
	logger.Info("subscription started", "floor", floor, "bootstrapped", !found && s.Start != nil)

	opts := []kgo.Opt{
		kgo.SeedBrokers(k.o.Brokers...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(k.o.Topic),
		kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(), kgo.SessionTimeout(k.o.SessionTimeout),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(time.Second),
	}
	if k.o.Instance != "" {
		opts = append(opts, kgo.InstanceID(k.o.Instance+"/"+s.Name))
	}
	cl, err := kgo.NewClient(append(opts, k.o.ClientOpts...)...)
	if err != nil {
		return fmt.Errorf("build consumer for %s: %w", s.Name, err)
	}
	defer func() {
		cl.AllowRebalance() // leaving the group waits for the poll gate
		cl.Close()
	}()
	size := s.BatchSize
	if size <= 0 {
		size = k.o.BatchSize
	}
	commit := func(recs []*kgo.Record) {
		if len(recs) == 0 {
			return
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := cl.CommitRecords(cctx, recs...); err != nil {
			// Not fatal: the records are handled again after a rebalance.
			logger.Warn("commit offsets", "err", err)
		}
	}
	for {
		fetches := cl.PollRecords(ctx, size)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fetches.EachError(func(topic string, p int32, err error) {
			logger.Warn("fetch change log", "partition", p, "err", err)
		})
		recs := fetches.Records()
		if len(recs) == 0 {
			cl.AllowRebalance()
			continue
		}
		batch := make([]polled, 0, len(recs))
		for _, rec := range recs {
			e, err := Decode(rec.Value)
			if err != nil {
				st.Update(func(st *changelog.SubscriptionStatus) { st.Skipped++; st.LastErr = err.Error() })
				logger.Error("skip undecodable record", "partition", rec.Partition, "offset", rec.Offset, "err", err)
				continue
			}
			if e.Seq <= floor {
				continue // covered by the subscription's start
			}
			batch = append(batch, polled{e, rec})
		}
		// Per partition the relay produced in Seq order; sorting keeps
		// that and orders the batch as the embedded log would.
		sort.SliceStable(batch, func(i, j int) bool { return batch[i].e.Seq < batch[j].e.Seq })
		entries := make([]changelog.Entry, len(batch))
		for i, p := range batch {
			entries[i] = p.e
		}
		if kept := changelog.FilterTypes(entries, s.Types); len(kept) > 0 {
			save := func(handled uint64) {
				var done []*kgo.Record
				for _, p := range batch {
					if p.e.Seq <= handled {
						done = append(done, p.rec)
					}
				}
				commit(done)
				st.Update(func(st *changelog.SubscriptionStatus) { st.Position = max(st.Position, handled) })
			}
			if err := st.HandleBatch(ctx, s, kept, logger, k.o.MaxBackoff, save); err != nil {
				return err
			}
		}
		commit(recs)
		cl.AllowRebalance()
		if n := len(entries); n > 0 {
			st.Update(func(st *changelog.SubscriptionStatus) { st.Position = max(st.Position, entries[n-1].Seq) })
		}
	}
}

// WaitHandled returns once the group of subscription name — across every
// replica — has handled every entry up to seq, or with ctx's error: once
// the relay has published seq and the group's committed offsets reach the
// end of every partition as it was then. It waits for the subscription to
// run in this process first, as changelog.Changelog.WaitHandled does.
func (k *Subscriptions) WaitHandled(ctx context.Context, name string, seq uint64) error {
	var floor uint64
	if err := k.tracker.WaitFor(ctx, name, func(st changelog.SubscriptionStatus) bool {
		floor = st.Position
		return !st.Bootstrapping
	}); err != nil {
		return err
	}
	group := k.Group(name)
	if f, found, err := k.o.Cursors.LoadCursor(ctx, startCursor(group)); err != nil {
		return fmt.Errorf("load start of %s: %w", name, err)
	} else if found {
		floor = f
	}
	if seq <= floor {
		return nil
	}
	adm, err := k.admin()
	if err != nil {
		return err
	}
	var ends kadm.ListedOffsets
	for {
		relayed, _, err := k.o.Cursors.LoadCursor(ctx, RelayCursor(k.o.Topic))
		if err != nil {
			return fmt.Errorf("load relay position: %w", err)
		}
		if relayed >= seq {
			if ends, err = adm.ListEndOffsets(ctx, k.o.Topic); err == nil {
				err = ends.Error()
			}
			if err == nil {
				break
			}
			k.logger.Debug("list end offsets", "err", err)
		}
		if err := changelog.Sleep(ctx, 20*time.Millisecond); err != nil {
			return fmt.Errorf("wait for %s to handle %d: %w", name, seq, err)
		}
	}
	for {
		committed, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			done := true
			ends.Each(func(o kadm.ListedOffset) {
				if o.Offset <= 0 {
					return
				}
				c, ok := committed.Lookup(o.Topic, o.Partition)
				if !ok || c.Err != nil || c.At < o.Offset {
					done = false
				}
			})
			if done {
				return nil
			}
		}
		if err := changelog.Sleep(ctx, 20*time.Millisecond); err != nil {
			return fmt.Errorf("wait for %s to handle %d: %w", name, seq, err)
		}
	}
}

// Follow tails the change-log topic on this replica and calls handler for
// every entry after position after, until ctx ends; it keeps no durable
// state and joins no group (GraphQL subscriptions use it). Entries already
// in the topic when it starts are read from Log instead (the topic may have
// dropped them), then the topic is tailed from its end as it was; an
// entry delivered once is not delivered again even when the relay
// re-published it. Order is per subject. Partitions added to the topic
// later are not followed.
func (k *Subscriptions) Follow(ctx context.Context, after uint64, handler changelog.Handler) error {
	adm, err := k.admin()
	if err != nil {
		return err
	}
	var ends kadm.ListedOffsets
	for {
		if ends, err = adm.ListEndOffsets(ctx, k.o.Topic); err == nil {
			err = ends.Error()
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		k.logger.Debug("list end offsets", "err", err)
		if err := changelog.Sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	// Every record before ends was relayed from a committed entry, so its
	// Seq is at most the head read now.
	head, err := k.o.Log.LastSeq(ctx)
	if err != nil {
		return fmt.Errorf("read log head: %w", err)
	}
	for pos := after; pos < head; {
		batch, err := k.o.Log.Changes(ctx, pos, k.o.BatchSize)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read change log: %w", err)
		}
		if len(batch) == 0 {
			break
		}
		for _, e := range batch {
			if e.Seq > head {
				pos = head
				break
			}
			if err := changelog.Deliver(ctx, e, handler, k.logger, k.o.MaxBackoff); err != nil {
				return err
			}
			pos = e.Seq
		}
	}
	from := map[int32]kgo.Offset{}
	seen := map[int32]uint64{}
	ends.Each(func(o kadm.ListedOffset) {
		from[o.Partition] = kgo.NewOffset().At(o.Offset)
		seen[o.Partition] = max(head, after)
	})
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(k.o.Brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{k.o.Topic: from}),
		kgo.FetchMaxWait(time.Second),
	}, k.o.ClientOpts...)...)
	if err != nil {
		return fmt.Errorf("build follower: %w", err)
	}
	defer cl.Close()
	for {
		fetches := cl.PollRecords(ctx, k.o.BatchSize)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fetches.EachError(func(topic string, p int32, err error) {
			k.logger.Warn("fetch change log", "partition", p, "err", err)
		})
		for _, rec := range fetches.Records() {
			e, err := Decode(rec.Value)
			if err != nil {
				k.logger.Error("skip undecodable record", "partition", rec.Partition, "offset", rec.Offset, "err", err)
				continue
			}
			if e.Seq <= seen[rec.Partition] {
				continue // delivered already, or before after
			}
			seen[rec.Partition] = e.Seq
			if err := changelog.Deliver(ctx, e, handler, k.logger, k.o.MaxBackoff); err != nil {
				return err
			}
		}
	}
}

package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/changelog"
)

// Leases grants the relay its lease, so that one replica relays at a time
// (catalog stores shared by replicas implement it).
type Leases interface {
	// AcquireLease grants or renews the lease name to holder for ttl. It
	// returns the lease as it stands and whether holder holds it.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (catalog.Lease, bool, error)
}

// RelayOptions configure a Relay.
type RelayOptions struct {
	// Brokers are the bootstrap servers; ClientOpts are added to the
	// producer client's options (TLS, SASL, test seams).
	Brokers    []string
	ClientOpts []kgo.Opt
	// Topic is the change-log topic; empty means DefaultTopic.
	Topic string
	// Partitions and ReplicationFactor are used when the relay creates the
	// topic; zero means 12 partitions and the broker's default factor.
	Partitions        int32
	ReplicationFactor int16
	// Log is the store's outbox and Cursors where the relay keeps its
	// position (RelayCursor(Topic)); both are normally the store.
	Log     changelog.Log
	Cursors changelog.Cursors
	// Leases, when set, lets only the holder of the lease "changelog/relay"
	// relay (Holder names this replica). nil relays unconditionally: one
	// process.
	Leases   Leases
	Holder   string
	LeaseTTL time.Duration // zero means 15s
	// BatchSize bounds the entries produced before the position is saved;
	// zero means 512.
	BatchSize int
	Logger    *slog.Logger
}

// Relay publishes the store's outbox to the change-log topic: every entry,
// in Seq order, at least once. The producer is idempotent (a retried
// produce is not duplicated by the broker) and keys each record by its
// subject, so the entries of one subject keep their order in one partition.
// The relay saves its position after each batch is acknowledged by the
// brokers (acks=all), so a crash re-publishes at most one batch: consumers
// see those entries twice, which idempotent handlers absorb and
// Subscriptions.Follow filters out.
type Relay struct {
	o        RelayOptions
	logger   *slog.Logger
	position atomic.Uint64
}

// RelayLease is the lease name the relay holds while it relays.
const RelayLease = "changelog/relay"

// RelayCursor is the cursor under which the relay of topic keeps its
// position.
func RelayCursor(topic string) string { return "kafkalog/relay/" + topic }

// NewRelay returns a relay; it does no I/O.
func NewRelay(o RelayOptions) *Relay {
	if o.Topic == "" {
		o.Topic = DefaultTopic
	}
	if o.Partitions <= 0 {
		o.Partitions = 12
	}
	if o.ReplicationFactor == 0 {
		o.ReplicationFactor = -1
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 15 * time.Second
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 512
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Relay{o: o, logger: logger.With("component", "kafkalog-relay", "topic", o.Topic)}
}

// Position returns the last entry this relay saw acknowledged (0 before
// the first batch).
func (r *Relay) Position() uint64 { return r.position.Load() }

// Run creates the topic if it is missing, then relays until ctx ends and
// returns ctx's error. Broker and store failures are logged and retried.
func (r *Relay) Run(ctx context.Context) error {
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(r.o.Brokers...), kgo.DefaultProduceTopic(r.o.Topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0),
	}, r.o.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("build relay client: %w", err)
	}
	defer cl.Close()
	for {
		if err := EnsureTopic(ctx, cl, r.o.Topic, r.o.Partitions, r.o.ReplicationFactor); err == nil {
			break
		} else if ctx.Err() != nil {
			return ctx.Err()
		} else {
			r.logger.Warn("create change-log topic", "err", err)
		}
		if err := changelog.Sleep(ctx, time.Second); err != nil {
			return err
		}
	}
	for {
		held, err := r.hold(ctx)
		if err != nil {
			return err
		}
		if held {
			err = r.relay(ctx, cl)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				r.logger.Warn("relay", "err", err)
			}
		}
		if err := changelog.Sleep(ctx, r.o.LeaseTTL/3); err != nil {
			return err
		}
	}
}

// hold acquires or renews the relay lease; without Leases it always holds.
func (r *Relay) hold(ctx context.Context) (bool, error) {
	if r.o.Leases == nil {
		return true, nil
	}
	l, ok, err := r.o.Leases.AcquireLease(ctx, RelayLease, r.o.Holder, r.o.LeaseTTL)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		r.logger.Warn("acquire relay lease", "err", err)
		return false, nil
	}
	if !ok {
		r.logger.Debug("relay lease held elsewhere", "holder", l.Holder, "expires", l.Expires)
	}
	return ok, nil
}

// relay publishes batches while it holds the lease, renewing it every
// third of its lifetime; it returns when the lease is lost or a step fails.
func (r *Relay) relay(ctx context.Context, cl *kgo.Client) error {
	name := RelayCursor(r.o.Topic)
	pos, _, err := r.o.Cursors.LoadCursor(ctx, name)
	if err != nil {
		return fmt.Errorf("load relay cursor: %w", err)
	}
	r.position.Store(pos)
	renewed := time.Now()
	for {
		if time.Since(renewed) > r.o.LeaseTTL/3 {
			held, err := r.hold(ctx)
			if err != nil || !held {
				return err
			}
			renewed = time.Now()
		}
		batch, err := r.o.Log.Changes(ctx, pos, r.o.BatchSize)
		if err != nil {
			return fmt.Errorf("read outbox: %w", err)
		}
		if len(batch) == 0 {
			wctx, cancel := context.WithTimeout(ctx, r.o.LeaseTTL/3)
			err := r.o.Log.WaitChanges(wctx, pos)
			cancel()
			if err != nil && ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("wait for outbox: %w", err)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		recs := make([]*kgo.Record, 0, len(batch))
		for _, e := range batch {
			rec, err := Encode(r.o.Topic, e)
			if err != nil {
				return err
			}
			recs = append(recs, rec)
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("produce entries %d..%d: %w", batch[0].Seq, batch[len(batch)-1].Seq, err)
		}
		pos = batch[len(batch)-1].Seq
		if err := r.o.Cursors.SaveCursor(ctx, name, pos); err != nil {
			return fmt.Errorf("save relay cursor: %w", err)
		}
		r.position.Store(pos)
	}
}

// EnsureTopic creates topic with partitions and replication factor rf
// (-1: the broker's default) unless it exists.
func EnsureTopic(ctx context.Context, cl *kgo.Client, topic string, partitions int32, rf int16) error {
	adm := kadm.NewClient(cl)
	res, err := adm.CreateTopic(ctx, partitions, rf, nil, topic)
	if err == nil {
		err = res.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

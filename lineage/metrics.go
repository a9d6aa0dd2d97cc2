package lineage

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Propagator's Prometheus series.
type metrics struct {
	writes     *prometheus.CounterVec
	recomputes *prometheus.CounterVec
	batch      prometheus.Histogram
	delay      prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, p *Propagator) *metrics {
	m := &metrics{
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "watershed_propagation_writes_total",
			Help: "Propagated attachments written (propagate) or removed (retract) by the propagation handler.",
		}, []string{"op"}),
		recomputes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "watershed_propagation_recomputes_total",
			Help: "Closures recomputed: full (every origin, at start and on resync) or origin (one origin a batch affected).",
		}, []string{"kind"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "watershed_propagation_batch_duration_seconds",
			Help:    "Time to handle one batch of change-log entries, writes included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "watershed_propagation_delay_seconds",
			Help:    "Time from a batch's first entry being committed to its propagated attachments being committed.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10),
		}),
	}
	if reg == nil {
		return m
	}
	lastSeq := func() (uint64, bool) {
		seq, err := p.o.Graph.LastSeq(context.Background())
		return seq, err == nil
	}
	reg.MustRegister(m.writes, m.recomputes, m.batch, m.delay,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "watershed_propagation_backlog_entries",
			Help: "Change-log entries committed but not yet handled by propagation (head - position).",
		}, func() float64 {
			head, ok := lastSeq()
			pos := p.Stats().Position
			if !ok || head < pos {
				return 0
			}
			return float64(head - pos)
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "watershed_propagation_lag_seconds",
			Help: "Age of the oldest change-log entry propagation has not handled yet (0 when caught up).",
		}, func() float64 { return p.lag().Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "watershed_propagation_origins",
			Help: "Direct attachments that propagate.",
		}, func() float64 { return float64(p.Stats().Origins) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "watershed_propagation_attachments",
			Help: "Propagated attachments the origins reach.",
		}, func() float64 { return float64(p.Stats().Attachments) }),
	)
	return m
}

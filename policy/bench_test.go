package policy_test

import (
	"fmt"
	"testing"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/policy"
)

// bigEstate has topics topics of four fields each (one in ten carrying
// PII.Email), each read by one group and sunk into a table through a
// connector.
func bigEstate(topics int) catalog.Snapshot {
	snap := catalog.Snapshot{Source: "prod"}
	for i := 0; i < topics; i++ {
		t := catalog.TopicURN("prod", fmt.Sprintf("t%05d", i))
		snap.Assets = append(snap.Assets, catalog.Asset{URN: t, Name: fmt.Sprintf("t%05d", i), Properties: configs("retention.ms", "1209600000")})
		for f := 0; f < 4; f++ {
			fu := catalog.FieldURN("prod", fmt.Sprintf("t%05d", i), "value", fmt.Sprintf("f%d", f))
			a := catalog.Asset{URN: fu, Name: fmt.Sprintf("f%d", f), Properties: catalog.Properties{"path": fmt.Sprintf("f%d", f)}}
			if f == 0 && i%10 == 0 {
				a.Classifications = []catalog.SourceClassification{{Name: "PII.Email"}}
			}
			snap.Assets = append(snap.Assets, a)
			snap.Links = append(snap.Links, catalog.Link{From: t, Kind: catalog.EdgeContains, To: fu, Confidence: 1})
		}
		g := catalog.GroupURN("prod", fmt.Sprintf("g%05d", i))
		c := catalog.ConnectorURN("prod-connect", fmt.Sprintf("sink%05d", i))
		tb := catalog.TableURN("postgres://dwh:5432", fmt.Sprintf("dwh.t%05d", i))
		snap.Assets = append(snap.Assets, catalog.Asset{URN: g, Name: fmt.Sprintf("g%05d", i)}, catalog.Asset{URN: c}, catalog.Asset{URN: tb})
		snap.Links = append(snap.Links,
			catalog.Link{From: t, Kind: catalog.EdgeConsumes, To: g, Confidence: 1},
			catalog.Link{From: t, Kind: catalog.EdgeConsumes, To: c, Confidence: 1},
			catalog.Link{From: c, Kind: catalog.EdgeSinks, To: tb, Confidence: 1},
			catalog.Link{From: t, Kind: catalog.EdgeDerives, To: tb, Via: c, Confidence: 1})
	}
	return snap
}

// BenchmarkSweep times one sweep of each built-in that walks the graph
// over 5,000 topics (20,000 fields, 5,000 groups and sinks), once the
// violations are open (the steady state: nothing to write).
func BenchmarkSweep(b *testing.B) {
	specs := []policy.Spec{
		{Name: "readers", Builtin: policy.BuiltinPIIConsumerAllowlist, Enabled: true},
		{Name: "retention", Builtin: policy.BuiltinPIIRetention, Enabled: true, Params: map[string]any{"max": "168h"}},
		{Name: "sinks", Builtin: policy.BuiltinPIISinkAllowlist, Enabled: true},
		{Name: "cel", Enabled: true, Condition: `"PII" in classifications(asset) && size(consumers(asset)) > 1`, Scope: policy.Scope{Kinds: []catalog.Kind{catalog.KindTopic}}},
	}
	h := newHarness(b, specs...)
	if _, err := h.store.Reconcile(h.ctx, bigEstate(5000), nil); err != nil {
		b.Fatal(err)
	}
	for _, s := range specs {
		if err := h.engine.Sweep(h.ctx, s.Name); err != nil { // opens the violations
			b.Fatal(err)
		}
	}
	for _, s := range specs {
		b.Run(s.Name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if err := h.engine.Sweep(h.ctx, s.Name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

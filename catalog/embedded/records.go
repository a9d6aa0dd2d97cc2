package embedded

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// Key layout. Every key starts with a one-byte prefix naming its keyspace.
//
//	e<urn>                         entity record (JSON entityRecord)
//	g<from>\x00<kind>\x00<to>      edge record (JSON edgeRecord)
//	l<urn>\x00<source>             live readings of one facet (canonical JSON)
//	c<seq, 8 bytes big endian>     change (JSON changeRecord)
//	k<name>                        changelog cursor (8 bytes big endian)
//	s<source>                      source state (JSON sourceRecord)
//	d<name>                        classification definition (JSON)
//	r<source>\x00<^start ns, 8 BE> crawl run (JSON), newest first
//	m<name>                        store metadata
//	a<name>                        lease (JSON catalog.Lease)
//	p<urn>\x00<class>\x00<origin>    propagated attachment (JSON attach; attachments.go)
//	x<source><scope>e<urn>, …g<edge> scope index (see scopeindex.go)
//	o<deleted><kind><name>\x00<urn> search order (see searchorder.go)
//	j<key>                         journal (see snapshot.go)
const (
	prefixEntity   = 'e'
	prefixEdge     = 'g'
	prefixLive     = 'l'
	prefixChange   = 'c'
	prefixCursor   = 'k'
	prefixSource   = 's'
	prefixClassDef = 'd'
	prefixRun      = 'r'
	prefixMeta     = 'm'
	prefixLease    = 'a'
)

// formatVersion is stored under m"format"; a store written by a newer
// format refuses to open, and one written by an older format is migrated
// when it opens (see migration).
//
//	1  the keyspaces above
//	2  adds the scope index (x), the search order (o) and the journal (j)
//	3  moves propagated attachments out of the entity records (p)
const formatVersion = 3

func entityKey(u catalog.URN) []byte { return append([]byte{prefixEntity}, u...) }

func edgeKey(k catalog.EdgeKey) []byte {
	b := make([]byte, 0, 3+len(k.From)+len(k.Kind)+len(k.To))
	b = append(b, prefixEdge)
	b = append(b, k.From...)
	b = append(b, 0)
	b = append(b, k.Kind...)
	b = append(b, 0)
	return append(b, k.To...)
}

func liveKey(u catalog.URN, source string) []byte {
	b := append([]byte{prefixLive}, u...)
	b = append(b, 0)
	return append(b, source...)
}

func liveKeyPrefix(u catalog.URN) []byte {
	b := append([]byte{prefixLive}, u...)
	return append(b, 0)
}

func changeKey(seq uint64) []byte {
	b := make([]byte, 9)
	b[0] = prefixChange
	binary.BigEndian.PutUint64(b[1:], seq)
	return b
}

func cursorKey(name string) []byte { return append([]byte{prefixCursor}, name...) }
func sourceKey(name string) []byte { return append([]byte{prefixSource}, name...) }
func classDefKey(name string) []byte {
	return append([]byte{prefixClassDef}, name...)
}

func runKey(source string, start time.Time) []byte {
	b := append([]byte{prefixRun}, source...)
	b = append(b, 0)
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], ^uint64(start.UnixNano()))
	return append(b, ts[:]...)
}

func metaKey(name string) []byte { return append([]byte{prefixMeta}, name...) }

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// entityRecord is what the store keeps per entity.
type entityRecord struct {
	URN    catalog.URN             `json:"urn"`
	Facets map[string]*facetRecord `json:"facets,omitempty"`
	// Curated data, set through the API; never touched by crawls.
	Description string   `json:"description,omitempty"`
	Owners      []string `json:"owners,omitempty"`
	Direct      []attach `json:"direct,omitempty"`     // manual and rule attachments
	Propagated  []attach `json:"propagated,omitempty"` // computed by the propagation handler
	Suppressed  []string `json:"suppressed,omitempty"` // rule classifications a steward removed
	CreatedAt   time.Time
	UpdatedAt   time.Time
	DeletedAt   time.Time `json:",omitzero"`
}

// facetRecord is one source's assertion of an entity.
type facetRecord struct {
	Name        string                         `json:"name,omitempty"`
	Description string                         `json:"description,omitempty"`
	Props       json.RawMessage                `json:"props,omitempty"`
	Classes     []catalog.SourceClassification `json:"classes,omitempty"`
	Scopes      []string                       `json:"scopes,omitempty"`
	FirstSeen   time.Time                      `json:"firstSeen"`
}

// attach is the stored form of a catalog.Attachment.
type attach struct {
	Classification string                   `json:"c"`
	Source         catalog.AttachmentSource `json:"s"`
	Propagate      bool                     `json:"p,omitempty"`
	Origin         catalog.URN              `json:"o,omitempty"`
	Path           []catalog.URN            `json:"path,omitempty"`
	Actor          string                   `json:"a,omitempty"`
	At             time.Time                `json:"at"`
}

func (a attach) public() catalog.Attachment {
	return catalog.Attachment{
		Classification: a.Classification, Source: a.Source, Propagate: a.Propagate,
		Origin: a.Origin, Path: a.Path, Actor: a.Actor, At: a.At,
	}
}

func attachFrom(a catalog.Attachment) attach {
	return attach{
		Classification: a.Classification, Source: a.Source, Propagate: a.Propagate,
		Origin: a.Origin, Path: a.Path, Actor: a.Actor, At: a.At,
	}
}

// facetHash fingerprints the content of a facet (not its timestamps), so a
// re-crawl can tell an unchanged facet without reading its record.
func facetHash(f *facetRecord) uint64 {
	h := fnv.New64a()
	writeStr := func(s string) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	writeStr(f.Name)
	writeStr(f.Description)
	writeStr(string(f.Props))
	for _, c := range f.Classes {
		writeStr(c.Name)
		writeStr(string(c.Source))
	}
	writeStr("|")
	for _, s := range f.Scopes {
		writeStr(s)
	}
	return h.Sum64()
}

func bytesHash(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// alive reports whether any source or the API asserts the entity.
func (r *entityRecord) alive() bool { return len(r.Facets) > 0 }

// sources returns the names of the asserting sources, sorted.
func (r *entityRecord) sources() []string {
	out := make([]string, 0, len(r.Facets))
	for s := range r.Facets {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// displayName is the first name a source gave (sources in name order), else
// the URN's last path element.
func (r *entityRecord) displayName() string {
	for _, s := range r.sources() {
		if n := r.Facets[s].Name; n != "" {
			return n
		}
	}
	return r.URN.DisplayName()
}

// effectiveDescription is the curated description, else the first one a
// source gave.
func (r *entityRecord) effectiveDescription() string {
	if r.Description != "" {
		return r.Description
	}
	for _, s := range r.sources() {
		if d := r.Facets[s].Description; d != "" {
			return d
		}
	}
	return ""
}

// view builds the merged public entity. live maps source → live readings.
func (r *entityRecord) view(live map[string]catalog.Properties, defs map[string]catalog.ClassificationDef) catalog.Entity {
	e := catalog.Entity{
		URN:         r.URN,
		Kind:        r.URN.Kind(),
		Owners:      append([]string(nil), r.Owners...),
		Sources:     r.sources(),
		CreatedAt:   r.CreatedAt,
		UpdatedAt:   r.UpdatedAt,
		DeletedAt:   r.DeletedAt,
		Description: r.Description,
		Suppressed:  append([]string(nil), r.Suppressed...),
	}
	if len(e.Suppressed) == 0 {
		e.Suppressed = nil
	}
	props := catalog.Properties{}
	// Later sources first so that earlier (by name) ones win on conflict.
	for i := len(e.Sources) - 1; i >= 0; i-- {
		f := r.Facets[e.Sources[i]]
		p, err := catalog.DecodeProperties(f.Props)
		if err == nil {
			for k, v := range p {
				props[k] = v
			}
		}
	}
	e.Name = r.displayName()
	e.Description = r.effectiveDescription()
	if len(props) > 0 {
		e.Properties = props
	}
	if len(live) > 0 {
		merged := catalog.Properties{}
		for _, s := range e.Sources {
			for k, v := range live[s] {
				if _, dup := merged[k]; !dup {
					merged[k] = v
				}
			}
		}
		if len(merged) > 0 {
			e.Live = merged
		}
	}
	e.Classifications = r.attachments(defs)
	return e
}

// attachments returns every attachment: facet tags, direct and propagated.
func (r *entityRecord) attachments(defs map[string]catalog.ClassificationDef) []catalog.Attachment {
	var out []catalog.Attachment
	seen := map[[2]string]bool{}
	for _, s := range r.sources() {
		f := r.Facets[s]
		for _, c := range f.Classes {
			src := c.Source
			if src == "" {
				src = catalog.AttachCrawler
			}
			key := [2]string{c.Name, string(src)}
			if seen[key] {
				continue
			}
			seen[key] = true
			prop := true
			if d, ok := defs[c.Name]; ok {
				prop = d.Propagates
			}
			out = append(out, catalog.Attachment{Classification: c.Name, Source: src, Propagate: prop, Actor: "source:" + s, At: f.FirstSeen})
		}
	}
	for _, a := range r.Direct {
		out = append(out, a.public())
	}
	for _, a := range r.Propagated {
		out = append(out, a.public())
	}
	catalog.SortAttachments(out)
	return out
}

// classNames returns the distinct classification names on the entity.
func (r *entityRecord) classNames() []string {
	set := map[string]struct{}{}
	for _, f := range r.Facets {
		for _, c := range f.Classes {
			set[c.Name] = struct{}{}
		}
	}
	for _, a := range r.Direct {
		set[a.Classification] = struct{}{}
	}
	for _, a := range r.Propagated {
		set[a.Classification] = struct{}{}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// edgeRecord is what the store keeps per edge.
type edgeRecord struct {
	From      catalog.URN             `json:"from"`
	Kind      catalog.EdgeKind        `json:"kind"`
	To        catalog.URN             `json:"to"`
	Claims    map[string]*claimRecord `json:"claims,omitempty"`
	Block     []string                `json:"block,omitempty"`
	Alive     []interval              `json:"alive,omitempty"`
	DeletedAt time.Time               `json:",omitzero"`
}

type claimRecord struct {
	Origin     string        `json:"origin,omitempty"`
	Confidence float64       `json:"confidence"`
	Transform  string        `json:"transform,omitempty"`
	Masking    bool          `json:"masking,omitempty"`
	Via        []catalog.URN `json:"via,omitempty"`
	Scopes     []string      `json:"scopes,omitempty"`
	FirstSeen  time.Time     `json:"firstSeen"`
	LastSeen   time.Time     `json:"lastSeen"`
}

type interval struct {
	From time.Time `json:"from"`
	To   time.Time `json:",omitzero"`
}

func (r *edgeRecord) key() catalog.EdgeKey {
	return catalog.EdgeKey{From: r.From, Kind: r.Kind, To: r.To}
}

func (r *edgeRecord) alive() bool { return len(r.Claims) > 0 }

// claimHash fingerprints a claim's content (not its timestamps).
func claimHash(c *claimRecord) uint64 {
	via := make([]string, len(c.Via))
	for i, v := range c.Via {
		via[i] = string(v)
	}
	return bytesHash([]byte(fmt.Sprintf("%s\x00%v\x00%s\x00%v\x00%s\x00%s", c.Origin, c.Confidence, c.Transform, c.Masking, strings.Join(c.Scopes, "\x01"), strings.Join(via, "\x01"))))
}

// view builds the public edge. lastSeen gives each crawler source's last
// reconcile time, which is the last time it saw a claim it still asserts.
func (r *edgeRecord) view(lastSeen func(source string) time.Time) catalog.Edge {
	e := catalog.Edge{EdgeKey: r.key(), Block: append([]string(nil), r.Block...), DeletedAt: r.DeletedAt}
	srcs := make([]string, 0, len(r.Claims))
	for s := range r.Claims {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	for _, s := range srcs {
		c := r.Claims[s]
		seen := c.LastSeen
		if t := lastSeen(s); t.After(seen) {
			seen = t
		}
		e.Claims = append(e.Claims, catalog.Claim{
			Source: s, Origin: c.Origin, Confidence: c.Confidence, Transform: c.Transform,
			Masking: c.Masking, Via: append([]catalog.URN(nil), c.Via...), FirstSeen: c.FirstSeen, LastSeen: seen,
		})
	}
	for _, iv := range r.Alive {
		e.Alive = append(e.Alive, catalog.Interval{From: iv.From, To: iv.To})
	}
	return e
}

func (r *edgeRecord) data() catalog.EdgeData {
	d := catalog.EdgeData{From: r.From, Kind: r.Kind, To: r.To, Block: r.Block}
	srcs := make([]string, 0, len(r.Claims))
	for s := range r.Claims {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	d.Sources = srcs
	for _, s := range srcs {
		c := r.Claims[s]
		d.Claims = append(d.Claims, catalog.ClaimData{Source: s, Origin: c.Origin, Confidence: c.Confidence, Transform: c.Transform, Masking: c.Masking, Via: c.Via})
	}
	return d
}

// changeRecord is the stored form of a change.
type changeRecord struct {
	Seq     uint64             `json:"seq"`
	Type    catalog.ChangeType `json:"type"`
	Subject catalog.URN        `json:"subject"`
	Time    time.Time          `json:"time"`
	Origin  string             `json:"origin,omitempty"`
	Actor   string             `json:"actor,omitempty"`
	Cause   string             `json:"cause,omitempty"`
	Data    json.RawMessage    `json:"data,omitempty"`
}

func (c changeRecord) public() catalog.Change {
	return catalog.Change{Seq: c.Seq, Type: c.Type, Subject: c.Subject, Time: c.Time, Origin: c.Origin, Actor: c.Actor, Cause: c.Cause, Data: c.Data}
}

// sourceRecord is per-source state.
type sourceRecord struct {
	LastReconciled time.Time `json:"lastReconciled"`
}

// runRecord is the stored form of a crawl run.
type runRecord struct {
	Source    string                  `json:"source"`
	Kind      string                  `json:"kind,omitempty"`
	Trigger   string                  `json:"trigger,omitempty"`
	Status    catalog.CrawlStatus     `json:"status"`
	StartedAt time.Time               `json:"startedAt"`
	Duration  time.Duration           `json:"duration"`
	Counts    map[string]int          `json:"counts,omitempty"`
	Result    catalog.ReconcileResult `json:"result"`
	Errors    []string                `json:"errors,omitempty"`
}

type classDefRecord struct {
	Name          string    `json:"name"`
	Description   string    `json:"description,omitempty"`
	Propagates    bool      `json:"propagates"`
	PassesMasking bool      `json:"passesMasking,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
}

func (d *classDefRecord) public() catalog.ClassificationDef {
	return catalog.ClassificationDef{Name: d.Name, Description: d.Description, Propagates: d.Propagates, PassesMasking: d.PassesMasking, CreatedAt: d.CreatedAt}
}

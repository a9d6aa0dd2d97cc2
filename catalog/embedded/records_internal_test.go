package embedded

import (
	"reflect"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// TestSameRecordCoversEveryField guards sameRecord, the fast filter that
// decides a record is unchanged: each field of entityRecord, changed alone,
// must make it report a difference. A new field fails here until sameRecord
// compares it.
func TestSameRecordCoversEveryField(t *testing.T) {
	base := func() *entityRecord {
		return &entityRecord{
			URN:         "urn:topic:p/t",
			Facets:      map[string]*facetRecord{"p": {Name: "t", Props: []byte(`{"a":1}`), Scopes: []string{"s"}}},
			Description: "d", Owners: []string{"o"},
			Direct:     []attach{{Classification: "PII", Source: catalog.AttachManual}},
			Propagated: []attach{{Classification: "PII", Source: catalog.AttachPropagated, Origin: "urn:topic:p/o", Path: []catalog.URN{"urn:topic:p/o", "urn:topic:p/t"}}},
			Suppressed: []string{"X"}, CreatedAt: time.Unix(1, 0), UpdatedAt: time.Unix(2, 0), DeletedAt: time.Unix(3, 0),
		}
	}
	if !sameRecord(base(), base()) || !sameRecord(base(), cloneEntity(base())) {
		t.Fatal("equal records differ")
	}
	changes := map[string]func(r *entityRecord){
		"URN":         func(r *entityRecord) { r.URN = "urn:topic:p/u" },
		"Facets":      func(r *entityRecord) { r.Facets["p"].Props = []byte(`{"a":2}`) },
		"Description": func(r *entityRecord) { r.Description = "e" },
		"Owners":      func(r *entityRecord) { r.Owners = nil },
		"Direct":      func(r *entityRecord) { r.Direct[0].Propagate = true },
		"Propagated":  func(r *entityRecord) { r.Propagated[0].Path = r.Propagated[0].Path[:1] },
		"Suppressed":  func(r *entityRecord) { r.Suppressed = nil },
		"CreatedAt":   func(r *entityRecord) { r.CreatedAt = time.Unix(9, 0) },
		"UpdatedAt":   func(r *entityRecord) { r.UpdatedAt = time.Unix(9, 0) },
		"DeletedAt":   func(r *entityRecord) { r.DeletedAt = time.Time{} },
	}
	typ := reflect.TypeOf(entityRecord{})
	for i := 0; i < typ.NumField(); i++ {
		name := typ.Field(i).Name
		change, ok := changes[name]
		if !ok {
			t.Errorf("entityRecord.%s is not covered: compare it in sameRecord and add it here", name)
			continue
		}
		r := base()
		change(r)
		if sameRecord(base(), r) {
			t.Errorf("a change of %s goes unnoticed", name)
		}
	}
}

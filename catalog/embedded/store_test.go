package embedded_test

import (
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/catalogtest"
	"github.com/watershed-data/watershed/catalog/embedded"
)

func harness() catalogtest.Harness {
	return catalogtest.Harness{Open: func(t *testing.T, dir string, clock func() time.Time) catalog.Store {
		t.Helper()
		s, err := embedded.Open(embedded.Options{Dir: dir, Now: clock})
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		return s
	}}
}

func TestConformance(t *testing.T) {
	catalogtest.Run(t, harness())
}

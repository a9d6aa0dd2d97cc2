package lineage_test

import (
	"testing"

	"github.com/watershed-data/watershed/lineage/lineagetest"
)

// TestPropagationScenarios runs the propagation scripts in
// testdata/propagation (see lineagetest for the language).
func TestPropagationScenarios(t *testing.T) {
	lineagetest.RunDir(t, "testdata/propagation/*.txt")
}

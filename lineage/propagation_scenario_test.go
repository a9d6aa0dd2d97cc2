package lineage_test

import (
	"testing"

	"github.com/watershed-data/watershed/lineage/lineagetest"
)

// TestScenarios runs the propagation scripts in testdata (see lineagetest
// for the language).
func TestScenarios(t *testing.T) {
	lineagetest.RunDir(t, "testdata/*.test")
}

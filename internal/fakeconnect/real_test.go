package fakeconnect

import (
	"io"
	"net/http"
	"testing"
)

// TestUnknownConnectorTopicsLikeRealWorker: the real worker (Kafka 4.3.1,
// seen by internal/realestate) answers GET /connectors/{name}/topics of a
// connector it does not know with 200 and an empty list, and the fake does
// the same.
func TestUnknownConnectorTopicsLikeRealWorker(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	resp, err := http.Get(s.URL + "/connectors/nope/topics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != `{"nope":{"topics":[]}}` {
		t.Errorf("GET /connectors/nope/topics = %d %s", resp.StatusCode, b)
	}
}

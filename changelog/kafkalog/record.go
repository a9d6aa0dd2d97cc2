package kafkalog

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/changelog"
)

// ContentType is the content-type header of every record: the CloudEvents
// Kafka protocol binding in structured mode (the whole event is the value).
const ContentType = "application/cloudevents+json"

// DefaultTopic is the change-log topic when none is configured.
const DefaultTopic = "watershed.changes"

// keyless is the key of entries without a subject, so that they still land
// in one partition in order.
const keyless = "watershed"

// Encode turns an entry into the record the relay produces: key = the
// subject URN, value = the entry's CloudEvents JSON envelope, header
// content-type = ContentType.
func Encode(topic string, e changelog.Entry) (*kgo.Record, error) {
	value, err := json.Marshal(changelog.Envelope(e))
	if err != nil {
		return nil, fmt.Errorf("encode entry %d: %w", e.Seq, err)
	}
	key := string(e.Subject)
	if key == "" {
		key = keyless
	}
	return &kgo.Record{
		Topic: topic, Key: []byte(key), Value: value, Timestamp: e.Time,
		Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte(ContentType)}},
	}, nil
}

// Decode turns a record's value back into the entry it carries.
func Decode(value []byte) (changelog.Entry, error) {
	var ce changelog.CloudEvent
	if err := json.Unmarshal(value, &ce); err != nil {
		return changelog.Entry{}, fmt.Errorf("decode change record: %w", err)
	}
	if ce.SpecVersion != "1.0" {
		return changelog.Entry{}, fmt.Errorf("decode change record: specversion %q, want 1.0", ce.SpecVersion)
	}
	seq, err := strconv.ParseUint(ce.ID, 10, 64)
	if err != nil {
		return changelog.Entry{}, fmt.Errorf("decode change record: id %q is not a sequence number", ce.ID)
	}
	at, err := time.Parse(time.RFC3339Nano, ce.Time)
	if err != nil {
		return changelog.Entry{}, fmt.Errorf("decode change record %d: time: %w", seq, err)
	}
	src := ce.Source
	if src == "/watershed" {
		src = ""
	}
	return changelog.Entry{
		Seq: seq, Type: catalog.ChangeType(ce.Type), Subject: catalog.URN(ce.Subject), Time: at,
		Origin: src, Actor: ce.Actor, Cause: ce.Cause, Data: ce.Data,
	}, nil
}

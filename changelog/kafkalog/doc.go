// Package kafkalog is the change log of the distributed mode: the store's
// outbox published to a Kafka topic, and change-log subscriptions consumed
// from it with consumer groups (franz-go).
//
// The topic (default watershed.changes) is a public contract that any
// Kafka client can consume (kcat, a Flink job, a Python consumer):
//
//   - key: the entry's subject URN as UTF-8 ("watershed" for the rare entry
//     without a subject), so all entries of one subject are in one
//     partition, in Seq order;
//   - value: the entry's CloudEvents 1.0 JSON (changelog.Envelope: id,
//     source, type, subject, time, datacontenttype, data, and the
//     extensions sequence, cause and actor) — the CloudEvents Kafka
//     binding's structured mode, with header content-type
//     "application/cloudevents+json";
//   - delivery: at least once. The relay's producer is idempotent, so a
//     produce retry never duplicates a record, but a relay that crashes
//     after the brokers acknowledged a batch and before it saved its
//     position publishes that batch again. A consumer that cares drops a
//     record whose sequence is not above the last one it saw in that
//     partition.
//
// Relay publishes; one replica at a time does (it holds the lease
// "changelog/relay" in the shared store). Subscriptions implements the
// runner the stages declare (Run, WaitHandled) and the follower of GraphQL
// subscriptions (Follow): a subscription is a consumer group named
// GroupPrefix + Subscription.Name, so N replicas share each handler's work
// and each entry is handled once per group (at least once across a crash
// or a rebalance, which idempotent, state-based handlers absorb).
package kafkalog

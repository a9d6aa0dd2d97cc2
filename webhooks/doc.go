// Package webhooks delivers change-log entries to HTTP receivers: Slack,
// pipeline restarters, any service that takes a POST. It promises:
//
//   - Only committed changes are delivered: the dispatcher is a change-log
//     subscription, and the log holds only committed entries.
//   - Nothing is lost on a crash. Deliveries, their cursor and the delivery
//     log live in the stage's own Pebble DB (not the catalog's, so an
//     enqueue never waits behind a large crawl), every write synced. The
//     dispatcher enqueues a batch's deliveries and the cursor past it in one
//     write, so each change is enqueued exactly once per endpoint; a
//     delivery is removed only after a 2xx is recorded, so a kill -9
//     between the answer and the record delivers it again (at least once).
//     Enqueues are synced to disk; attempt results are handed to the OS
//     without waiting for the disk (they survive kill -9; a power cut can
//     only repeat an attempt, never lose a delivery).
//   - Replicas can share it (Options.Leases, a Queue over the shared
//     store's KV): every replica manages the endpoints; only the holder of
//     DeliveryLease delivers, its writes fenced by the lease's token, so
//     each change is still enqueued once per endpoint and a dead holder's
//     queue is resumed by the next holder.
//   - Receivers can deduplicate: webhook-id is derived from (endpoint,
//     change), the same on every retry and replay.
//   - Deliveries follow the Standard Webhooks specification: webhook-id,
//     webhook-timestamp and webhook-signature ("v1," + base64 HMAC-SHA256 of
//     id.timestamp.body; one signature per active secret, so a rotation has
//     an overlap in which both verify).
//   - Failures are retried on a schedule (DefaultRetry, or webhooks.retry)
//     with jitter; a Retry-After from the receiver is honoured (up to a
//     day); after the last attempt a delivery is a dead letter, which
//     ReplayDeadLetters queues again. 410 Gone disables the endpoint at
//     once; an endpoint failing without a success for DisableAfter is
//     disabled too; both emit webhook.endpoint.disabled into the change log
//     (through an outbox in the queue DB, so the event survives a crash).
//   - Endpoints are isolated: each has its own sender with its own
//     concurrency limit, so a hanging receiver (bounded by Timeout) delays
//     only itself. Redirects are not followed; no proxy is used.
//   - The SSRF guard (Guard) refuses internal destinations at create time and
//     on every connection, checking every resolved address and dialing the
//     checked one, unless an operator allowlists a CIDR.
//
// Endpoint URLs may carry secrets (Slack's do), so logs, events and metrics
// show only scheme and host, and the API shows endpoints to writers only.
package webhooks

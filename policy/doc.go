// Package policy evaluates policies over the catalog and keeps their
// violations in it. It promises:
//
//   - A policy is a name, a description, a severity, a scope and a
//     condition: a built-in (pii-consumer-allowlist, pii-retention,
//     compatibility-none-with-consumers, pii-sink-allowlist, schema-drift)
//     or a CEL expression over asset, change and helper functions. A
//     condition is compiled once; one that does not compile is refused with
//     its line and column (Compile), from the config file and the API alike.
//   - Violations are catalog entities (kind VIOLATION, URN
//     urn:violation:<policy>/<subject urn>) owned by the reserved policy
//     source. The engine reconciles snapshots scoped per (policy, subject),
//     so the store's own diffing deduplicates them (one per pair), resolves
//     those that no longer hold (a tombstone), keeps their history, and
//     commits policy.violation.opened and .resolved with the violation's
//     evidence in the same transaction as the violation itself.
//   - Evaluation is state-based. The engine is a change-log subscription
//     (SubscriptionName): for each batch it asks every policy which
//     subjects the changes can affect and judges them again from the
//     catalog as it is now, so redelivered, reordered or skipped entries are
//     harmless. A scheduled sweep judges everything, which also catches
//     what no change announces: live readings (consumer lag, group state)
//     emit no events, so conditions on them are sweep-only.
//   - The engine never reacts to its own writes (actor system:policy) nor
//     to changes of violations, so it cannot loop.
//   - An evaluation error is no verdict: the violation, if any, stays as
//     it was, and the error is shown on the policy and counted.
//   - A steward can acknowledge a violation (still open, still notified)
//     or mute it: a muted violation is frozen — neither updated nor
//     resolved, so webhooks hear nothing about it — until it is unmuted or
//     the mute expires; the next evaluation then brings it up to date.
//   - Policy definitions live in the catalog too (kind POLICY), so the
//     distributed mode shares them with no second store. Config policies
//     are written at start (a policy that leaves the file is deleted and
//     its violations resolve); API policies are created, changed and
//     deleted through the engine.
//
// What the policies need from lineage (downstream within N hops, what
// reaches a sink with a classification intact) arrives as function values
// (Lineage) wired in main; this package never imports the lineage stage.
package policy

package catalog

import "errors"

// KVWrite is one write of a KVBatch: Value stored at Key; or Key deleted
// (Delete); or, with End set, every key in [Key, End) deleted.
type KVWrite struct {
	Key, Value, End []byte
	Delete          bool
}

// KVExpect is a precondition of a KVBatch: Key holds exactly Value, or is
// absent when Value is nil.
type KVExpect struct {
	Key, Value []byte
}

// KVBatch is one atomic write to an ordered key-value namespace, the
// storage a stage keeps its own state in when that state must be shared by
// replicas (a shared store offers namespaces of it; the webhooks queue is
// one). Either every write commits or none does. The batch commits only if
// every Expect holds at the commit — a Conflict wrapping ErrKVChanged
// otherwise — and, when Fence is set, only while its lease is held under
// its token (a Conflict wrapping ErrFenced otherwise). Lazy lets the
// commit return before the write is durable against a machine crash; a
// store may make every write durable.
type KVBatch struct {
	Writes []KVWrite
	Expect []KVExpect
	Fence  Fence
	Lazy   bool
}

// ErrKVChanged is wrapped by the Conflict error of a KVBatch whose Expect
// did not hold.
var ErrKVChanged = errors.New("a key changed meanwhile")

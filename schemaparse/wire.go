package schemaparse

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The Confluent wire format frames a serialized record as a magic byte 0,
// the 4-byte big-endian ID of the writer schema in the registry, and (for
// Protobuf only) the message indexes that locate the message type in the
// schema, followed by the encoded payload.

// wireMagic is the first byte of every record in the Confluent wire format.
const wireMagic = 0

// wireHeaderLen is the length of the magic byte plus the schema ID.
const wireHeaderLen = 5

// ParseWireHeader reads the Confluent wire-format header of a record key or
// value: the magic byte 0 and the 4-byte big-endian schema ID. It returns
// the schema ID and the bytes after the header (for Protobuf, the message
// indexes then the payload). It returns an error, and never panics, for a
// value too short or with another first byte (not written by a Schema
// Registry serializer).
func ParseWireHeader(b []byte) (schemaID int, rest []byte, err error) {
	if len(b) < wireHeaderLen {
		return 0, nil, fmt.Errorf("read wire header: %d bytes, need at least %d", len(b), wireHeaderLen)
	}
	if b[0] != wireMagic {
		return 0, nil, fmt.Errorf("read wire header: magic byte is 0x%02x, want 0x00 (not Schema Registry framing)", b[0])
	}
	id := binary.BigEndian.Uint32(b[1:wireHeaderLen])
	if id > math.MaxInt32 {
		return 0, nil, fmt.Errorf("read wire header: schema ID %d is negative as a signed 32-bit ID", int32(id))
	}
	return int(id), b[wireHeaderLen:], nil
}

// AppendWireHeader appends the Confluent wire-format header for schemaID to
// dst and returns the extended slice. It is the inverse of ParseWireHeader;
// schemaID must fit in 31 bits, as registry IDs do.
func AppendWireHeader(dst []byte, schemaID int) []byte {
	dst = append(dst, wireMagic)
	return binary.BigEndian.AppendUint32(dst, uint32(schemaID))
}

// maxMessageIndexes bounds the nesting depth ParseProtobufMessageIndexes
// accepts; real schemas nest messages a few levels deep.
const maxMessageIndexes = 128

// ParseProtobufMessageIndexes reads the message indexes that follow the
// wire header of a Protobuf record: a zig-zag varint count, then that many
// zig-zag varint indexes. A count of 0 (the single byte 0x00) is the common
// shorthand for [0], the first message of the schema. It returns the
// indexes and the payload after them, or an error for a truncated,
// negative or implausibly long list.
func ParseProtobufMessageIndexes(rest []byte) (indexes []int, payload []byte, err error) {
	count, n := binary.Varint(rest)
	if n <= 0 {
		return nil, nil, fmt.Errorf("read message index count: %s", varintProblem(n))
	}
	rest = rest[n:]
	if count == 0 {
		return []int{0}, rest, nil
	}
	if count < 0 || count > maxMessageIndexes {
		return nil, nil, fmt.Errorf("read message indexes: count %d is out of range [0, %d]", count, maxMessageIndexes)
	}
	indexes = make([]int, 0, count)
	for i := int64(0); i < count; i++ {
		idx, n := binary.Varint(rest)
		if n <= 0 {
			return nil, nil, fmt.Errorf("read message index %d of %d: %s", i+1, count, varintProblem(n))
		}
		if idx < 0 || idx > math.MaxInt32 {
			return nil, nil, fmt.Errorf("read message index %d of %d: %d is out of range", i+1, count, idx)
		}
		indexes = append(indexes, int(idx))
		rest = rest[n:]
	}
	return indexes, rest, nil
}

// AppendProtobufMessageIndexes appends the wire encoding of message indexes
// to dst, using the one-byte shorthand for [0], and returns the extended
// slice. It is the inverse of ParseProtobufMessageIndexes.
func AppendProtobufMessageIndexes(dst []byte, indexes []int) []byte {
	if len(indexes) == 0 || (len(indexes) == 1 && indexes[0] == 0) {
		return append(dst, 0)
	}
	dst = binary.AppendVarint(dst, int64(len(indexes)))
	for _, idx := range indexes {
		dst = binary.AppendVarint(dst, int64(idx))
	}
	return dst
}

// varintProblem explains binary.Varint's n <= 0.
func varintProblem(n int) string {
	if n == 0 {
		return "input ends inside a varint"
	}
	return "varint overflows 64 bits"
}

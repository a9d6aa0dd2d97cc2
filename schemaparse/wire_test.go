package schemaparse

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestParseWireHeader(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       []byte
		wantID   int
		wantRest []byte
		wantErr  string
	}{
		{name: "id 1 and payload", in: []byte{0, 0, 0, 0, 1, 0x0a, 0x03}, wantID: 1, wantRest: []byte{0x0a, 0x03}},
		{name: "big-endian id", in: []byte{0, 0x00, 0x01, 0x86, 0xa0}, wantID: 100000, wantRest: []byte{}},
		{name: "largest id", in: []byte{0, 0x7f, 0xff, 0xff, 0xff, 9}, wantID: 1<<31 - 1, wantRest: []byte{9}},
		{name: "empty", in: nil, wantErr: "0 bytes, need at least 5"},
		{name: "short", in: []byte{0, 0, 0, 1}, wantErr: "4 bytes"},
		{name: "plain JSON value", in: []byte(`{"id":1}`), wantErr: "magic byte is 0x7b"},
		{name: "negative id", in: []byte{0, 0xff, 0xff, 0xff, 0xff}, wantErr: "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, rest, err := ParseWireHeader(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || id != tc.wantID || !bytes.Equal(rest, tc.wantRest) {
				t.Fatalf("= %d, %x, %v; want %d, %x", id, rest, err, tc.wantID, tc.wantRest)
			}
		})
	}
}

func TestParseProtobufMessageIndexes(t *testing.T) {
	for _, tc := range []struct {
		name        string
		in          []byte
		want        []int
		wantPayload []byte
		wantErr     string
	}{
		{name: "shorthand for the first message", in: []byte{0, 0x0a, 0x01}, want: []int{0}, wantPayload: []byte{0x0a, 0x01}},
		{name: "explicit [0]", in: []byte{2, 0, 0x0a}, want: []int{0}, wantPayload: []byte{0x0a}},
		{name: "nested [1, 2]", in: []byte{4, 2, 4}, want: []int{1, 2}, wantPayload: []byte{}},
		{name: "index 64 needs two bytes", in: []byte{2, 0x80, 0x01, 0xff}, want: []int{64}, wantPayload: []byte{0xff}},
		{name: "empty", in: nil, wantErr: "ends inside a varint"},
		{name: "truncated count", in: []byte{0x80}, wantErr: "ends inside a varint"},
		{name: "truncated indexes", in: []byte{4, 2}, wantErr: "index 2 of 2"},
		{name: "negative count", in: []byte{1}, wantErr: "count -1 is out of range"},
		{name: "absurd count", in: []byte{0xfe, 0x0f}, wantErr: "out of range"},
		{name: "negative index", in: []byte{2, 3}, wantErr: "-2 is out of range"},
		{name: "varint overflow", in: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, wantErr: "overflows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, payload, err := ParseProtobufMessageIndexes(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) || !bytes.Equal(payload, tc.wantPayload) {
				t.Fatalf("= %v, %x, %v; want %v, %x", got, payload, err, tc.want, tc.wantPayload)
			}
		})
	}
}

func TestWireFormatRoundTrip(t *testing.T) {
	for _, indexes := range [][]int{nil, {0}, {1}, {0, 3}, {5, 0, 70}} {
		record := AppendWireHeader(nil, 4242)
		record = AppendProtobufMessageIndexes(record, indexes)
		record = append(record, "payload"...)

		id, rest, err := ParseWireHeader(record)
		if err != nil || id != 4242 {
			t.Fatalf("%v: header = %d, %v", indexes, id, err)
		}
		got, payload, err := ParseProtobufMessageIndexes(rest)
		want := indexes
		if len(want) == 0 {
			want = []int{0}
		}
		if err != nil || !slices.Equal(got, want) || string(payload) != "payload" {
			t.Errorf("%v: indexes = %v, payload %q, %v", indexes, got, payload, err)
		}
	}
	if got := AppendProtobufMessageIndexes(nil, []int{0}); !bytes.Equal(got, []byte{0}) {
		t.Errorf("[0] encodes as %x, want the one-byte shorthand 00", got)
	}
}

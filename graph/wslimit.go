package graph

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"net/http"
)

// limitWebsocket makes the connection behind a websocket upgrade refuse any
// message larger than max bytes: gqlgen's websocket transport sets no read
// limit, so without this one client message could make the server buffer
// any amount of memory, before authentication even.
func limitWebsocket(w http.ResponseWriter, max int64) http.ResponseWriter {
	h, ok := w.(http.Hijacker)
	if !ok {
		return w
	}
	return &limitedHijacker{ResponseWriter: w, h: h, max: max}
}

type limitedHijacker struct {
	http.ResponseWriter
	h   http.Hijacker
	max int64
}

// Hijack returns the connection wrapped so that its reads enforce the limit.
func (l *limitedHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := l.h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	lc := &frameLimitedConn{Conn: c, max: l.max}
	brw.Reader.Reset(lc)
	return lc, brw, nil
}

// frameLimitedConn follows the client's websocket frames (RFC 6455 §5.2) as
// their bytes are read and fails the read that would exceed the limit for
// one message (a frame and its continuations).
type frameLimitedConn struct {
	net.Conn
	max int64

	header    [14]byte
	have      int    // header bytes collected
	remaining uint64 // payload bytes left in the current frame
	message   uint64 // payload bytes of the current message so far
}

func (c *frameLimitedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if ferr := c.follow(p[:n]); ferr != nil {
		return 0, ferr
	}
	return n, err
}

func (c *frameLimitedConn) follow(b []byte) error {
	for len(b) > 0 {
		if c.remaining > 0 {
			k := min(uint64(len(b)), c.remaining)
			c.remaining -= k
			b = b[k:]
			continue
		}
		c.header[c.have] = b[0]
		c.have++
		b = b[1:]
		need := c.headerLen()
		if need == 0 || c.have < need {
			continue
		}
		payload := c.payloadLen()
		switch opcode := c.header[0] & 0x0f; {
		case opcode&0x8 != 0: // control frame (close, ping, pong): its own small message
			if payload > 125 {
				return fmt.Errorf("websocket control frame of %d bytes", payload)
			}
		default:
			if opcode != 0 { // text or binary: a new message starts
				c.message = 0
			}
			c.message += payload
			if c.message > uint64(c.max) {
				return fmt.Errorf("websocket message exceeds %d bytes", c.max)
			}
		}
		c.remaining, c.have = payload, 0
	}
	return nil
}

// headerLen returns the full header length once it is known (0 before).
func (c *frameLimitedConn) headerLen() int {
	if c.have < 2 {
		return 0
	}
	n := 2
	switch c.header[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if c.header[1]&0x80 != 0 {
		n += 4 // masking key
	}
	return n
}

func (c *frameLimitedConn) payloadLen() uint64 {
	switch l := c.header[1] & 0x7f; l {
	case 126:
		return uint64(binary.BigEndian.Uint16(c.header[2:4]))
	case 127:
		return binary.BigEndian.Uint64(c.header[2:10])
	default:
		return uint64(l)
	}
}

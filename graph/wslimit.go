package graph

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// limitWebsocket makes the connection behind a websocket upgrade refuse any
// message larger than max bytes: gqlgen's websocket transport sets no read
// limit, so without this one client message could make the server buffer
// any amount of memory, before authentication even. It also enforces the
// one graphql-transport-ws rule gqlgen gets wrong: a `subscribe` before
// `connection_init` closes the socket with 4401 Unauthorized (gqlgen
// closes with 1002).
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
	lc := &frameLimitedConn{Conn: c, max: l.max, inspect: true}
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
	fin       bool   // the current frame ends its message
	control   bool   // the current frame is a control frame
	mask      [4]byte
	masked    uint64 // payload bytes of the current frame seen so far

	// inspect is true until the client's first data message is complete;
	// first collects its (unmasked) payload.
	inspect bool
	first   []byte
}

// maxInspected bounds the first message kept for inspection; a longer one
// is let through unread (gqlgen then refuses it if it is not an init).
const maxInspected = 64 << 10

// errSubscribeBeforeInit ends a connection whose first message is a subscribe.
var errSubscribeBeforeInit = errors.New("websocket: subscribe before connection_init")

func (c *frameLimitedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if ferr := c.follow(p[:n]); ferr != nil {
		if errors.Is(ferr, errSubscribeBeforeInit) {
			c.closeWith(4401, "Unauthorized")
		}
		return 0, ferr
	}
	return n, err
}

// closeWith sends a close frame (RFC 6455 §5.5.1) and closes the connection.
func (c *frameLimitedConn) closeWith(code uint16, reason string) {
	frame := []byte{0x88, byte(2 + len(reason)), byte(code >> 8), byte(code)}
	frame = append(frame, reason...)
	_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Conn.Write(frame)
	_ = c.Conn.Close()
}

// payload takes the bytes of the current frame's payload as they arrive.
func (c *frameLimitedConn) payload(b []byte) error {
	if !c.inspect || c.control {
		return nil
	}
	if len(c.first)+len(b) > maxInspected {
		c.inspect, c.first = false, nil
		return nil
	}
	for _, x := range b {
		c.first = append(c.first, x^c.mask[c.masked%4])
		c.masked++
	}
	return nil
}

// frameDone is called when the current frame's payload is complete.
func (c *frameLimitedConn) frameDone() error {
	if !c.inspect || c.control || !c.fin {
		return nil
	}
	c.inspect = false
	var m struct {
		Type string `json:"type"`
	}
	err := json.Unmarshal(c.first, &m)
	c.first = nil
	if err == nil && m.Type == "subscribe" { // graphql-transport-ws only; graphql-ws says "start"
		return errSubscribeBeforeInit
	}
	return nil
}

func (c *frameLimitedConn) follow(b []byte) error {
	for len(b) > 0 {
		if c.remaining > 0 {
			k := min(uint64(len(b)), c.remaining)
			if err := c.payload(b[:k]); err != nil {
				return err
			}
			c.remaining -= k
			b = b[k:]
			if c.remaining == 0 {
				if err := c.frameDone(); err != nil {
					return err
				}
			}
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
		c.fin, c.control, c.masked = c.header[0]&0x80 != 0, c.header[0]&0x08 != 0, 0
		if c.header[1]&0x80 != 0 {
			copy(c.mask[:], c.header[need-4:need])
		} else {
			c.mask = [4]byte{}
		}
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
		if payload == 0 {
			if err := c.frameDone(); err != nil {
				return err
			}
		}
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

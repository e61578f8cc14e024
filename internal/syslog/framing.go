package syslog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// FrameReader splits a syslog TCP stream into messages. Each frame is
// either octet-counted ("LEN SP MSG", RFC 6587 section 3.4.1) or
// terminated by LF (non-transparent framing, section 3.4.2); the form is
// chosen per frame by its first byte, as rsyslog does, because senders do
// not announce it.
type FrameReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// ErrFrameTooLong reports an octet count above the reader's limit. The
// stream cannot be resynchronised after it, so the connection should end.
var ErrFrameTooLong = errors.New("syslog frame too long")

// NewFrameReader returns a FrameReader on r that accepts messages of up to
// max bytes. An LF-terminated message longer than max is delivered in
// max-byte pieces rather than dropped.
func NewFrameReader(r io.Reader, max int) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Next returns the next message, valid until the following call. It
// returns io.EOF at a clean end of stream and io.ErrUnexpectedEOF for a
// stream that ends inside an octet-counted frame. A final LF-framed
// message without its LF is still returned.
func (f *FrameReader) Next() ([]byte, error) {
	if frame, ok := f.buffered(); ok {
		return frame, nil
	}
	if f.r.Buffered() == 0 {
		// Read, then look again: a busy sender's frames arrive whole. An
		// error is left to the byte-wise path, which meets it again.
		if _, err := f.r.Peek(1); err == nil {
			if frame, ok := f.buffered(); ok {
				return frame, nil
			}
		}
	}
	for {
		c, err := f.r.ReadByte()
		if err != nil {
			return nil, err
		}
		switch {
		case c == '\n' || c == '\r' || c == 0:
			continue // empty frame or stray trailer of the previous one
		case isDigit(c):
			frame, err := f.countedOrLine(c)
			if err == nil && len(frame) == 0 {
				continue // "0 ": an empty counted frame
			}
			return frame, err
		default:
			return f.line([]byte{c})
		}
	}
}

// buffered returns the next frame as a slice of the read buffer, without
// a copy, when it lies there whole: the common case of a busy sender.
// Anything else (a frame cut by the buffer's end, a separator to skip, a
// line too long) is left to Next's byte-wise path.
func (f *FrameReader) buffered() ([]byte, bool) {
	b, _ := f.r.Peek(f.r.Buffered())
	if len(b) == 0 {
		return nil, false
	}
	switch c := b[0]; {
	case c == '\n' || c == '\r' || c == 0:
		return nil, false
	case isDigit(c):
		n, i := 0, 0
		for ; i < len(b) && i < 10 && isDigit(b[i]); i++ {
			n = n*10 + int(b[i]-'0')
		}
		if i == len(b) || b[i] != ' ' || i >= f.max || n == 0 || n > f.max || len(b)-i-1 < n {
			return nil, false
		}
		_, _ = f.r.Discard(i + 1 + n) // cannot fail: the bytes are buffered
		return b[i+1 : i+1+n], true
	default:
		// A line of max bytes or more is cut at max by line.
		j := bytes.IndexByte(b[:min(len(b), f.max)], '\n')
		if j < 0 {
			return nil, false
		}
		_, _ = f.r.Discard(j + 1)
		return bytes.TrimSuffix(b[:j], []byte{'\r'}), true
	}
}

// Buffered is the number of bytes read from the stream and not yet
// returned: 0 means the next Next may block.
func (f *FrameReader) Buffered() int { return f.r.Buffered() }

// countedOrLine reads "LEN SP MSG" whose first digit is first. Digits not
// followed by a space start an LF-framed message instead. It reads byte by
// byte so that it never waits for input the sender has not written.
func (f *FrameReader) countedOrLine(first byte) ([]byte, error) {
	digits := append(f.buf[:0], first)
	for len(digits) <= 10 && len(digits) < f.max {
		c, err := f.r.ReadByte()
		if err == io.EOF {
			return digits, nil
		}
		if err != nil {
			return nil, err
		}
		if c == ' ' {
			n, _ := strconv.Atoi(string(digits))
			if n > f.max {
				return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrFrameTooLong, n, f.max)
			}
			return f.counted(n)
		}
		if c == '\n' {
			return bytes.TrimSuffix(digits, []byte{'\r'}), nil
		}
		digits = append(digits, c)
		if !isDigit(c) {
			break
		}
	}
	if len(digits) >= f.max {
		return digits, nil // a text line longer than max: split it
	}
	return f.line(digits)
}

func (f *FrameReader) counted(n int) ([]byte, error) {
	if cap(f.buf) < n {
		f.buf = make([]byte, n)
	}
	f.buf = f.buf[:n]
	if _, err := io.ReadFull(f.r, f.buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return f.buf, nil
}

// line reads up to LF (or up to max bytes) after the bytes in prefix,
// which may alias f.buf. It only looks at what is buffered or blocks for
// at least one byte, so a message is returned as soon as its LF arrives.
func (f *FrameReader) line(prefix []byte) ([]byte, error) {
	f.buf = append(f.buf[:0], prefix...)
	for len(f.buf) < f.max {
		if _, err := f.r.Peek(1); err != nil {
			if err == io.EOF && len(f.buf) > 0 {
				return f.buf, nil
			}
			return nil, err
		}
		peek, _ := f.r.Peek(min(f.r.Buffered(), f.max-len(f.buf)))
		if i := bytes.IndexByte(peek, '\n'); i >= 0 {
			f.buf = append(f.buf, peek[:i]...)
			_, _ = f.r.Discard(i + 1) // cannot fail: the bytes are buffered
			return bytes.TrimSuffix(f.buf, []byte{'\r'}), nil
		}
		f.buf = append(f.buf, peek...)
		_, _ = f.r.Discard(len(peek))
	}
	// Too long: deliver max bytes now, the rest follows as the next frame.
	return f.buf, nil
}

// AppendOctetCounted appends msg to dst with RFC 6587 octet-counting
// framing.
func AppendOctetCounted(dst, msg []byte) []byte {
	dst = strconv.AppendInt(dst, int64(len(msg)), 10)
	dst = append(dst, ' ')
	return append(dst, msg...)
}

package fdholder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Client is the manager's connection to the holder. Its methods are
// safe for concurrent use; each is one request and its answer.
type Client struct {
	mu sync.Mutex
	c  *net.UnixConn
}

// Dial connects to the holder at path.
func Dial(path string) (*Client, error) {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("fdholder: %w", err)
	}
	return &Client{c: c}, nil
}

// Close closes the connection; the holder keeps what it holds.
func (c *Client) Close() error { return c.c.Close() }

// Store hands the holder a duplicate of fd under name, replacing what
// it held under that name.
func (c *Client) Store(name string, fd int) error {
	if len(name) == 0 || len(name) > MaxName {
		return fmt.Errorf("fdholder: store: bad name %q", name)
	}
	return c.request(append([]byte{'S'}, name...), unix.UnixRights(fd))
}

// Drop makes the holder close what it holds under name.
func (c *Client) Drop(name string) error {
	return c.request(append([]byte{'D'}, name...), nil)
}

// Exit asks the holder to close everything and exit.
func (c *Client) Exit() error { return c.request([]byte{'X'}, nil) }

func (c *Client) request(msg, oob []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, _, err := c.c.WriteMsgUnix(msg, oob, nil); err != nil {
		return fmt.Errorf("fdholder: %w", err)
	}
	buf := make([]byte, msgMax)
	n, err := c.c.Read(buf)
	switch {
	case err != nil:
		return fmt.Errorf("fdholder: %w", err)
	case n == 1 && buf[0] == 'K':
		return nil
	case n > 0 && buf[0] == '!':
		return fmt.Errorf("fdholder: %s", buf[1:n])
	}
	return errors.New("fdholder: bad answer")
}

// Retrieve returns a duplicate of everything the holder holds, by name
// (the holder keeps its copies). It asks for them in batches; a holder
// left by an older tend, which refuses that, is asked one by one.
func (c *Client) Retrieve() (map[string]*os.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out, err := c.retrieve('B')
	if errors.Is(err, errRefused) {
		out, err = c.retrieve('L')
	}
	if err != nil {
		return nil, fmt.Errorf("fdholder: retrieve: %w", err)
	}
	return out, nil
}

// errRefused is a holder's answer '!' to a list request.
var errRefused = errors.New("request refused")

// retrieve sends the list request op ('B' or 'L') and collects the
// answers: 'G' batches or 'F' entries, then 'E'.
func (c *Client) retrieve(op byte) (map[string]*os.File, error) {
	out := map[string]*os.File{}
	fail := func(err error) (map[string]*os.File, error) {
		for _, f := range out {
			f.Close()
		}
		return nil, err
	}
	if _, err := c.c.Write([]byte{op}); err != nil {
		return fail(err)
	}
	buf := make([]byte, batchMax)
	oob := make([]byte, unix.CmsgSpace(4*batchFDs))
	for {
		n, oobn, flags, _, err := c.c.ReadMsgUnix(buf, oob)
		if err != nil {
			return fail(err)
		}
		fds := parseFDs(oob[:oobn])
		if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
			closeFDs(fds)
			return fail(errors.New("answer too long"))
		}
		switch {
		case n == 1 && buf[0] == 'E':
			closeFDs(fds)
			return out, nil
		case n > 1 && buf[0] == 'F' && len(fds) == 1:
			keep(out, string(buf[1:n]), fds[0])
		case n >= 1 && buf[0] == 'G':
			names, ok := batchNames(buf[1:n])
			if !ok || len(names) != len(fds) {
				closeFDs(fds)
				return fail(errors.New("bad batch"))
			}
			for i, name := range names {
				keep(out, name, fds[i])
			}
		case n >= 1 && buf[0] == '!' && len(out) == 0:
			closeFDs(fds)
			return fail(fmt.Errorf("%w: %s", errRefused, buf[1:n]))
		default:
			closeFDs(fds)
			return fail(errors.New("bad answer"))
		}
	}
}

// keep adds fd to out under name, closing one received before under it.
func keep(out map[string]*os.File, name string, fd int) {
	if old := out[name]; old != nil {
		old.Close()
	}
	out[name] = os.NewFile(uintptr(fd), name)
}

// batchNames splits a 'G' message's names (each after its 2-byte length).
func batchNames(b []byte) ([]string, bool) {
	var names []string
	for len(b) > 0 {
		if len(b) < 2 {
			return nil, false
		}
		l := int(binary.LittleEndian.Uint16(b))
		if len(b) < 2+l {
			return nil, false
		}
		names = append(names, string(b[2:2+l]))
		b = b[2+l:]
	}
	return names, true
}

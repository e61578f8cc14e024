package fdholder

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/fdholder/holderproc"
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
// (the holder keeps its copies).
func (c *Client) Retrieve() (map[string]*os.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]*os.File{}
	fail := func(err error) (map[string]*os.File, error) {
		for _, f := range out {
			f.Close()
		}
		return nil, fmt.Errorf("fdholder: retrieve: %w", err)
	}
	if _, err := c.c.Write([]byte{'L'}); err != nil {
		return fail(err)
	}
	buf := make([]byte, msgMax)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := c.c.ReadMsgUnix(buf, oob)
		if err != nil {
			return fail(err)
		}
		fds := holderproc.ParseFDs(oob[:oobn])
		switch {
		case n == 1 && buf[0] == 'E':
			holderproc.CloseFDs(fds)
			return out, nil
		case n > 1 && buf[0] == 'F' && len(fds) == 1:
			name := string(buf[1:n])
			if old := out[name]; old != nil {
				old.Close()
			}
			out[name] = os.NewFile(uintptr(fds[0]), name)
		default:
			holderproc.CloseFDs(fds)
			return fail(errors.New("bad answer"))
		}
	}
}

package fdholder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

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
	msg, err := storeRequest(name)
	if err != nil {
		return err
	}
	return c.request(msg, unix.UnixRights(fd))
}

// storeRequest is the message of a store under name (its descriptor
// goes alongside).
func storeRequest(name string) ([]byte, error) {
	if len(name) == 0 || len(name) > MaxName {
		return nil, fmt.Errorf("fdholder: store: bad name %q", name)
	}
	return append([]byte{'S'}, name...), nil
}

// Drop makes the holder close what it holds under name.
func (c *Client) Drop(name string) error { return c.request(dropRequest(name), nil) }

// dropRequest is the message of a drop of name.
func dropRequest(name string) []byte { return append([]byte{'D'}, name...) }

// Manage makes this process the holder's manager: after a crash, the
// next tend takes the holder over with it, so that the holder waits
// grace (0: for ever) for a new manager once this one is gone, not from
// the first manager's end.
func (c *Client) Manage(grace time.Duration) error {
	msg := binary.LittleEndian.AppendUint64([]byte{'M'}, holderproc.GraceMS(grace))
	return c.request(msg, nil)
}

// Exit asks the holder to close everything and exit.
func (c *Client) Exit() error { return c.request([]byte{'X'}, nil) }

func (c *Client) request(msg, oob []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, _, err := c.c.WriteMsgUnix(msg, oob, nil); err != nil {
		return fmt.Errorf("fdholder: %w", err)
	}
	return c.answerLocked(make([]byte, msgMax))
}

// answerLocked reads the answer to one store, drop or exit.
func (c *Client) answerLocked(buf []byte) error {
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

// pipeline is a run of stores and drops sent before their answers are
// read: the holder answers a connection's requests in order, so one
// wake-up of each side serves many of them, where a request and its
// answer one at a time cost both a wake-up per request (two per service
// started at a bring-up). It holds the client's lock until end.
type pipeline struct {
	c       *Client
	pending []string // the names of the requests sent whose answers are not read yet
	buf     []byte
	failed  func(name string, err error)
}

// pipelineMax bounds the requests sent ahead of their answers (a
// Queue's run): far below
// what either socket queues (net.unix.max_dgram_qlen, 512 by default),
// so that neither side blocks on a full queue while the other waits.
const pipelineMax = 64

// pipeline starts a run of requests; failed hears of each that did not
// go through, by name.
func (c *Client) pipeline(failed func(name string, err error)) *pipeline {
	c.mu.Lock()
	return &pipeline{c: c, buf: make([]byte, msgMax), failed: failed}
}

// store sends a store of fd under name.
func (p *pipeline) store(name string, fd int) {
	msg, err := storeRequest(name)
	if err != nil {
		p.failed(name, err)
		return
	}
	p.send(name, msg, unix.UnixRights(fd))
}

// drop sends a drop of name.
func (p *pipeline) drop(name string) { p.send(name, dropRequest(name), nil) }

func (p *pipeline) send(name string, msg, oob []byte) {
	if _, _, err := p.c.c.WriteMsgUnix(msg, oob, nil); err != nil {
		p.failed(name, fmt.Errorf("fdholder: %w", err))
		return
	}
	p.pending = append(p.pending, name)
}

// flush reads the answers to every request sent.
func (p *pipeline) flush() {
	for _, name := range p.pending {
		if err := p.c.answerLocked(p.buf); err != nil {
			p.failed(name, err)
		}
	}
	p.pending = p.pending[:0]
}

// end reads the answers still due and lets the client go.
func (p *pipeline) end() {
	p.flush()
	p.c.mu.Unlock()
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
		fds := holderproc.ParseFDs(oob[:oobn])
		if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
			holderproc.CloseFDs(fds)
			return fail(errors.New("answer too long"))
		}
		switch {
		case n == 1 && buf[0] == 'E':
			holderproc.CloseFDs(fds)
			return out, nil
		case n > 1 && buf[0] == 'F' && len(fds) == 1:
			keep(out, string(buf[1:n]), fds[0])
		case n >= 1 && buf[0] == 'G':
			names, ok := batchNames(buf[1:n])
			if !ok || len(names) != len(fds) {
				holderproc.CloseFDs(fds)
				return fail(errors.New("bad batch"))
			}
			for i, name := range names {
				keep(out, name, fds[i])
			}
		case n >= 1 && buf[0] == '!' && len(out) == 0:
			holderproc.CloseFDs(fds)
			return fail(fmt.Errorf("%w: %s", errRefused, buf[1:n]))
		default:
			holderproc.CloseFDs(fds)
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

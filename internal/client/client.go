// Package client is the Go client of tend's control API (internal/api): it
// speaks HTTP+JSON over the daemon's unix socket and implements
// api.Manager, so callers use the same methods whether they hold the
// daemon's manager or talk to it from another process.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"syscall"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/rundir"
)

// Client talks to one tend daemon. It is safe for concurrent use.
type Client struct {
	socket string
	hc     *http.Client
}

var _ api.Manager = (*Client)(nil)

// New returns a client of the daemon listening on socket. Nothing is
// dialled until the first call.
func New(socket string) *Client {
	d := &net.Dialer{}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", socket)
		},
		DisableCompression: true,
	}
	// No overall timeout: jobs may wait for a unit's start timeout and a
	// log follow runs until its context ends. Callers bound calls by ctx.
	return &Client{socket: socket, hc: &http.Client{Transport: tr}}
}

// Socket returns the path the client dials.
func (c *Client) Socket() string { return c.socket }

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// DefaultSocket returns the socket a client talks to when --socket is not
// given: $TEND_SOCKET when set; else the system instance's
// (/run/tend/tend.sock) or, with user, the calling user's, in the runtime
// directory the daemon chooses by the same rule (internal/rundir).
func DefaultSocket(user bool, getenv func(string) string) string {
	if s := getenv(SocketEnv); s != "" {
		return s
	}
	if !user {
		return "/run/tend/tend.sock"
	}
	return filepath.Join(rundir.User(getenv, os.Getuid()), "tend", "tend.sock")
}

// SocketEnv names the variable that replaces --socket's default.
const SocketEnv = "TEND_SOCKET"

// ErrNotRunning is matched (errors.Is) by the error of any call made when
// no daemon answers on the socket; callers fall back to offline work.
var ErrNotRunning = errors.New("tend is not running")

type notRunningError struct {
	msg string
	err error
}

func (e *notRunningError) Error() string        { return e.msg }
func (e *notRunningError) Unwrap() []error      { return []error{ErrNotRunning, e.err} }
func (e *notRunningError) Is(target error) bool { return target == ErrNotRunning }

// Error is an answer of the daemon other than success. Status is the HTTP
// status; errors.Is matches the api sentinel errors it stands for
// (api.ErrNoSuchUnit for 404, api.ErrAccessDenied for 403, …).
type Error struct {
	Status  int
	Message string
	Unit    string // the unit concerned, when the daemon said
}

func (e *Error) Error() string { return e.Message }

// Unwrap maps the status back to the api sentinel errors.
func (e *Error) Unwrap() error {
	switch e.Status {
	case http.StatusNotFound:
		return api.ErrNoSuchUnit
	case http.StatusForbidden:
		return api.ErrAccessDenied
	case http.StatusConflict:
		return api.ErrRefused
	case http.StatusBadRequest:
		return api.ErrBadRequest
	}
	return nil
}

// dialError turns a transport error into a message a user can act on.
func (c *Client) dialError(err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT):
		return &notRunningError{fmt.Sprintf("tend is not running (no socket at %s)", c.socket), err}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &notRunningError{fmt.Sprintf("tend is not running (nothing answers on %s)", c.socket), err}
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("cannot connect to tend at %s: permission denied", c.socket)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("tend at %s: %w", c.socket, err)
}

// send performs one request and returns the response on success (status
// 2xx); the caller closes its body.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	u := "http://tend" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, c.dialError(err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	return resp, nil
}

// readError decodes an error answer; a body that is not our JSON (a proxy,
// the mux's 405) still gives its text.
func readError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{Status: resp.StatusCode}
	var er api.ErrorResponse
	if json.Unmarshal(b, &er) == nil && er.Error != "" {
		e.Message, e.Unit = er.Error, er.Unit
	} else {
		e.Message = string(bytes.TrimSpace(b))
	}
	if e.Message == "" {
		e.Message = resp.Status
	}
	return e
}

// call performs a request and decodes the JSON answer into out.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, in, out any) error {
	resp, err := c.send(ctx, method, path, query, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
	}
	return nil
}

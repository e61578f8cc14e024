package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"

	"github.com/tendproject/tend/internal/api"
)

func (c *Client) job(ctx context.Context, verb string, names []string, opts api.JobOptions) ([]api.JobResult, error) {
	var res []api.JobResult
	req := api.JobRequest{Names: names, Mode: opts.Mode, NoWait: opts.NoWait}
	err := c.call(ctx, "POST", "/v1/units/"+verb, nil, req, &res)
	return res, err
}

// Start starts units; see api.Manager.
func (c *Client) Start(ctx context.Context, names []string, opts api.JobOptions) ([]api.JobResult, error) {
	return c.job(ctx, api.JobStart, names, opts)
}

// Stop stops units.
func (c *Client) Stop(ctx context.Context, names []string, opts api.JobOptions) ([]api.JobResult, error) {
	return c.job(ctx, api.JobStop, names, opts)
}

// Restart restarts units.
func (c *Client) Restart(ctx context.Context, names []string, opts api.JobOptions) ([]api.JobResult, error) {
	return c.job(ctx, api.JobRestart, names, opts)
}

// TryRestart restarts units that are running.
func (c *Client) TryRestart(ctx context.Context, names []string, opts api.JobOptions) ([]api.JobResult, error) {
	return c.job(ctx, api.JobTryRestart, names, opts)
}

// Reload reloads units.
func (c *Client) Reload(ctx context.Context, names []string, opts api.JobOptions) ([]api.JobResult, error) {
	return c.job(ctx, api.JobReload, names, opts)
}

// ReloadOrRestart reloads units that support it and restarts the others.
func (c *Client) ReloadOrRestart(ctx context.Context, names []string, opts api.JobOptions) ([]api.JobResult, error) {
	return c.job(ctx, api.JobReloadOrRestart, names, opts)
}

// Kill sends sig to the "main", "control" or "all" processes of units.
func (c *Client) Kill(ctx context.Context, names []string, who string, sig int) error {
	return c.call(ctx, "POST", "/v1/units/kill", nil, api.KillRequest{Names: names, Who: who, Signal: sig}, nil)
}

// ResetFailed resets the failed state of units (all when names is empty).
func (c *Client) ResetFailed(ctx context.Context, names []string) error {
	return c.call(ctx, "POST", "/v1/units/reset-failed", nil, api.NamesRequest{Names: names}, nil)
}

// ListUnits lists loaded units matching patterns.
func (c *Client) ListUnits(ctx context.Context, patterns []string, all bool) ([]api.UnitStatus, error) {
	q := url.Values{"pattern": patterns}
	if all {
		q.Set("all", "true")
	}
	var res []api.UnitStatus
	return res, c.call(ctx, "GET", "/v1/units", q, nil, &res)
}

// ListUnitFiles lists unit files matching patterns.
func (c *Client) ListUnitFiles(ctx context.Context, patterns []string) ([]api.UnitFile, error) {
	var res []api.UnitFile
	return res, c.call(ctx, "GET", "/v1/unit-files", url.Values{"pattern": patterns}, nil, &res)
}

// unitPath is the route of one unit; the name is escaped so that a "/"
// in it reaches the server as data (and is refused there).
func unitPath(name, sub string) string {
	return "/v1/units/" + url.PathEscape(name) + sub
}

// Status returns the status of one unit.
func (c *Client) Status(ctx context.Context, name string) (api.UnitStatus, error) {
	var res api.UnitStatus
	return res, c.call(ctx, "GET", unitPath(name, ""), nil, nil, &res)
}

// Show returns the properties of one unit.
func (c *Client) Show(ctx context.Context, name string) (map[string]string, error) {
	var res map[string]string
	return res, c.call(ctx, "GET", unitPath(name, "/properties"), nil, nil, &res)
}

// Cat returns the files of one unit.
func (c *Client) Cat(ctx context.Context, name string) ([]api.UnitText, error) {
	var res []api.UnitText
	return res, c.call(ctx, "GET", unitPath(name, "/files"), nil, nil, &res)
}

// ListDependencies returns the dependency tree of one unit.
func (c *Client) ListDependencies(ctx context.Context, name string, dq api.DepQuery) (api.DepTree, error) {
	q := url.Values{}
	if dq.Kind != "" {
		q.Set("kind", dq.Kind)
	}
	if dq.All {
		q.Set("all", "true")
	}
	var res api.DepTree
	return res, c.call(ctx, "GET", unitPath(name, "/dependencies"), q, nil, &res)
}

// DaemonReexec has the manager re-execute its binary with its state;
// the next call is answered by the new process.
func (c *Client) DaemonReexec(ctx context.Context) error {
	return c.call(ctx, "POST", "/v1/daemon-reexec", nil, struct{}{}, nil)
}

// DaemonReload reloads unit files.
func (c *Client) DaemonReload(ctx context.Context) (api.ReloadReport, error) {
	var res api.ReloadReport
	return res, c.call(ctx, "POST", "/v1/daemon-reload", nil, struct{}{}, &res)
}

// UnitFiles performs an install operation (api.OpEnable, …).
func (c *Client) UnitFiles(ctx context.Context, op string, names []string, opts api.InstallOptions) (api.InstallChanges, error) {
	var res api.InstallChanges
	req := api.InstallRequest{Names: names, InstallOptions: opts}
	return res, c.call(ctx, "POST", "/v1/unit-files/"+url.PathEscape(op), nil, req, &res)
}

// IsEnabled returns the unit-file state of each name.
func (c *Client) IsEnabled(ctx context.Context, names []string) ([]string, error) {
	var res []string
	return res, c.call(ctx, "GET", "/v1/unit-files/state", url.Values{"name": names}, nil, &res)
}

// Info describes the instance: since when it runs, where its unit files are.
func (c *Client) Info(ctx context.Context) (api.ManagerInfo, error) {
	var res api.ManagerInfo
	return res, c.call(ctx, "GET", "/v1/manager", nil, nil, &res)
}

// ProcessUnits maps pids to their units.
func (c *Client) ProcessUnits(ctx context.Context) (map[int]string, error) {
	var res map[int]string
	return res, c.call(ctx, "GET", "/v1/processes", nil, nil, &res)
}

// SelfFDs returns the daemon's pid and the role of each of its
// descriptors that has one.
func (c *Client) SelfFDs(ctx context.Context) (api.SelfFDs, error) {
	var res api.SelfFDs
	return res, c.call(ctx, "GET", "/v1/self/fds", nil, nil, &res)
}

// Logs streams journal entries into the returned channel, which closes at
// the end of the entries or when ctx ends. An error in the middle of the
// stream also just ends it; use LogsFunc to see such errors.
func (c *Client) Logs(ctx context.Context, q api.LogQuery) (<-chan api.LogEntry, error) {
	resp, err := c.send(ctx, "POST", "/v1/logs", nil, q)
	if err != nil {
		return nil, err
	}
	ch := make(chan api.LogEntry)
	go func() {
		defer close(ch)
		_ = readStream(resp.Body, func(e api.LogEntry) error {
			select {
			case ch <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	return ch, nil
}

// LogsFunc calls fn for each entry of the stream, in order, and returns
// when the stream ends (nil), fn fails (its error) or ctx ends.
func (c *Client) LogsFunc(ctx context.Context, q api.LogQuery, fn func(api.LogEntry) error) error {
	resp, err := c.send(ctx, "POST", "/v1/logs", nil, q)
	if err != nil {
		return err
	}
	err = readStream(resp.Body, fn)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// readStream decodes newline-delimited entries from body until it ends,
// then closes it.
func readStream(body io.ReadCloser, fn func(api.LogEntry) error) error {
	defer body.Close()
	dec := json.NewDecoder(body)
	for {
		var e api.LogEntry
		err := dec.Decode(&e)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read log stream: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

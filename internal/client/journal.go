package client

import (
	"context"
	"net/url"

	"github.com/tendproject/tend/internal/api"
)

// LogBoots lists the boots in the instance's journal; see api.JournalManager.
func (c *Client) LogBoots(ctx context.Context) ([]api.LogBoot, error) {
	var res []api.LogBoot
	return res, c.call(ctx, "GET", "/v1/logs/boots", nil, nil, &res)
}

// LogDiskUsage says how much the instance's journal takes on disk.
func (c *Client) LogDiskUsage(ctx context.Context) (api.LogDiskUsage, error) {
	var res api.LogDiskUsage
	return res, c.call(ctx, "GET", "/v1/logs/disk-usage", nil, nil, &res)
}

// LogVacuum removes old segments of the instance's journal.
func (c *Client) LogVacuum(ctx context.Context, req api.LogVacuumRequest) (api.LogVacuumResult, error) {
	var res api.LogVacuumResult
	return res, c.call(ctx, "POST", "/v1/logs/vacuum", nil, req, &res)
}

// LogFieldValues lists the distinct values of a journal field.
func (c *Client) LogFieldValues(ctx context.Context, field string) ([]string, error) {
	var res []string
	return res, c.call(ctx, "GET", "/v1/logs/fields/"+url.PathEscape(field), nil, nil, &res)
}

// ReloadLogs reopens the files syslog.conf routes to; see api.JournalManager.
func (c *Client) ReloadLogs(ctx context.Context) (api.ReloadLogsResult, error) {
	var res api.ReloadLogsResult
	return res, c.call(ctx, "POST", "/v1/logs/reload", nil, struct{}{}, &res)
}

package apitest

import (
	"context"
	"slices"

	"github.com/tendproject/tend/internal/api"
)

// LogBoots implements api.Manager: the boots of Entries, in order of
// first appearance.
func (f *Fake) LogBoots(context.Context) ([]api.LogBoot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.LogBoot
	for _, e := range f.Entries {
		i := slices.IndexFunc(out, func(b api.LogBoot) bool { return b.ID == e.BootID })
		if i < 0 {
			out = append(out, api.LogBoot{ID: e.BootID, First: e.Time, Last: e.Time})
			continue
		}
		out[i].Last = e.Time
	}
	return out, nil
}

// LogDiskUsage implements api.Manager: the message bytes of Entries.
func (f *Fake) LogDiskUsage(context.Context) (api.LogDiskUsage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n int64
	for _, e := range f.Entries {
		n += int64(len(e.Message))
	}
	return api.LogDiskUsage{Dir: "/fake/journal", Bytes: n}, nil
}

// LogVacuum implements api.Manager: it drops every entry and records the
// call.
func (f *Fake) LogVacuum(_ context.Context, _ api.LogVacuumRequest) (api.LogVacuumResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(Call{Method: "LogVacuum"})
	var n int64
	for _, e := range f.Entries {
		n += int64(len(e.Message))
	}
	f.Entries = nil
	return api.LogVacuumResult{Dir: "/fake/journal", FreedBytes: n}, nil
}

// LogFieldValues implements api.Manager for SYSLOG_IDENTIFIER and
// _SYSTEMD_UNIT.
func (f *Fake) LogFieldValues(_ context.Context, field string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, e := range f.Entries {
		v := map[string]string{"SYSLOG_IDENTIFIER": e.Identifier, "_SYSTEMD_UNIT": e.Unit}[field]
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ReloadLogs implements api.Manager: it records the call.
func (f *Fake) ReloadLogs(context.Context) (api.ReloadLogsResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(Call{Method: "ReloadLogs"})
	return api.ReloadLogsResult{Files: []string{}}, nil
}

package daemon

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/journal"
	"github.com/tendproject/tend/internal/spawn"
	"github.com/tendproject/tend/internal/unit"
)

// DefaultLogGroups are the groups whose members read every log of the
// system instance when --log-group is not given, as with journald; those
// missing on the machine are skipped.
var DefaultLogGroups = []string{"adm", "systemd-journal"}

// logGroups resolves the configured log groups (names or numbers) in
// etc/group. nil names means the defaults, of which only the existing
// count; a group named explicitly must exist, since a typo would quietly
// shut its members out. An empty name stands for "no group".
func logGroups(etc string, names []string) (gids []uint32, found []string, err error) {
	explicit := names != nil
	if !explicit {
		names = DefaultLogGroups
	}
	for _, n := range names {
		if n == "" {
			continue
		}
		gid, err := spawn.LookupGroup(etc, n)
		if err != nil {
			if explicit {
				return nil, nil, fmt.Errorf("--log-group: %w", err)
			}
			continue
		}
		gids = append(gids, uint32(gid))
		found = append(found, n)
	}
	return gids, found, nil
}

// lookupGroups is the group-database fallback for kernels that do not
// report a peer's groups: the groups a service running as uid would get.
func lookupGroups(uid uint32) ([]uint32, error) {
	u, err := spawn.LookupUser(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return nil, err
	}
	out := make([]uint32, 0, len(u.Groups))
	for _, g := range u.Groups {
		out = append(out, uint32(g))
	}
	return out, nil
}

// logFilter narrows a journal query to what the caller may read. A
// caller who may not read everything sees the entries its own processes
// wrote (journald's rule), and asking for a named unit it may not read
// is refused so that an empty answer is never mistaken for a quiet unit.
// none is true when nothing at all is readable.
func (a *apiManager) logFilter(ctx context.Context, jq *journal.Query) (none bool, err error) {
	acc := api.AccessFromContext(ctx)
	if acc.AllLogs {
		return false, nil
	}
	for _, n := range jq.Units {
		if strings.ContainsAny(n, "*?[") {
			continue
		}
		if !a.mayReadUnit(acc, unit.CompleteName(n)) {
			return true, acc.LogsDenied(unit.CompleteName(n))
		}
	}
	if !acc.OwnLogs {
		return true, nil
	}
	jq.UIDs = []int{int(acc.UID)}
	return false, nil
}

// mayReadUnit: a unit's logs are readable by a caller without AllLogs
// when the unit's processes run as the caller (User=). A unit tend no
// longer knows is left to the uid filter.
func (a *apiManager) mayReadUnit(acc api.Access, name string) bool {
	if !acc.OwnLogs {
		return false
	}
	u, ok := a.d.mgr.CurrentPlan().Unit(name)
	if !ok || u.Load == unit.NotFound {
		return true
	}
	if u.Service == nil || u.Service.Exec.User == "" {
		return false // runs as the manager's user: root
	}
	ui, err := spawn.LookupUser(u.Service.Exec.User)
	return err == nil && ui.UID >= 0 && uint32(ui.UID) == acc.UID
}

package inspect

import (
	"github.com/tendproject/tend/internal/unit"

	"context"
	"strings"
)

// UnitSource is what the views need from a running daemon: the unit of
// each process it knows (api.Manager.ProcessUnits satisfies it). It may be
// nil; the views then rely on cgroups alone.
type UnitSource interface {
	ProcessUnits(ctx context.Context) (map[int]string, error)
}

// SelfLabel is the unit label of tend's own processes.
const SelfLabel = "tend"

// UnitFromCgroup returns the unit a cgroup path belongs to under tend's
// layout (<base>/<unit>, base "tend" or "tend-user-1000"): the last path
// element below the base that has a unit suffix. A process in the base
// cgroup itself is tend; "" means the path is not tend's.
func UnitFromCgroup(path string) string {
	elems := strings.Split(strings.Trim(path, "/"), "/")
	base := -1
	for i, e := range elems {
		if e == "tend" || strings.HasPrefix(e, "tend-") {
			base = i
		}
	}
	if base < 0 {
		return ""
	}
	for i := len(elems) - 1; i > base; i-- {
		if hasUnitSuffix(elems[i]) && !strings.HasSuffix(elems[i], ".slice") {
			return elems[i]
		}
	}
	if base == len(elems)-1 {
		return SelfLabel
	}
	return ""
}

func hasUnitSuffix(s string) bool {
	_, _, kind := unit.SplitName(s)
	return unit.KnownKind(kind) && len(s) > len(kind)+1
}

// IsUnitName reports whether s looks like a unit name (has a unit suffix),
// which is how the CLI tells `tend fds web.service` from `tend fds 42`.
func IsUnitName(s string) bool { return hasUnitSuffix(s) }

package daemon

import (
	"strconv"

	"github.com/tendproject/tend/internal/supervise"
	"github.com/tendproject/tend/internal/unit"
)

// limitProperties renders the resource-control settings as systemctl
// show does: numbers in bytes and tasks, "infinity" for none. MemoryMax=
// and TasksMax= are the limits in force in the unit's cgroup when it
// has one (TasksMax= then includes the default), else as configured.
func limitProperties(st supervise.Status, set func(k, v string)) {
	svc := st.Def.Service
	if svc == nil {
		return
	}
	r := svc.ResourceSettings()
	amount := func(a *unit.Amount) string {
		if a == nil {
			return "infinity"
		}
		return a.String()
	}
	set("MemoryMin", zeroOr(r.MemoryMin))
	set("MemoryLow", zeroOr(r.MemoryLow))
	set("MemoryHigh", amount(r.MemoryHigh))
	set("MemoryMax", amount(r.MemoryMax))
	set("MemorySwapMax", amount(r.MemorySwapMax))
	set("TasksMax", amount(r.TasksMax))
	if st.Cgroup != "" && st.MemoryMax != 0 { // 0: no detail was read
		set("MemoryMax", inForce(st.MemoryMax))
	}
	if st.Cgroup != "" && st.TasksMax != 0 {
		set("TasksMax", inForce(st.TasksMax))
	}
	quota := "infinity"
	if r.CPUQuota > 0 {
		quota = strconv.FormatUint(uint64(r.CPUQuota*10000), 10) + "us" // per second
	}
	set("CPUQuotaPerSecUSec", quota)
	set("CPUWeight", weightOr(r.CPUWeight))
	set("IOWeight", weightOr(r.IOWeight))
}

func inForce(v int64) string {
	if v < 0 {
		return "infinity"
	}
	return strconv.FormatInt(v, 10)
}

func zeroOr(a *unit.Amount) string {
	if a == nil {
		return "0"
	}
	return a.String()
}

func weightOr(w uint64) string {
	if w == 0 {
		return "[not set]"
	}
	return strconv.FormatUint(w, 10)
}

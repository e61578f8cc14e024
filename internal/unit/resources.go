package unit

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ResourceContext holds the systemd.resource-control(5) settings tend
// applies to a unit's control group.
type ResourceContext struct {
	MemoryMin, MemoryLow, MemoryHigh, MemoryMax, MemorySwapMax *Amount
	// TasksMax nil means the manager's default (DefaultTasksMax).
	TasksMax *Amount
	// CPUQuota is the CPU time allowed, in percent of one CPU (0 = no
	// quota), over CPUQuotaPeriod (0 = the default 100ms).
	CPUQuota       float64
	CPUQuotaPeriod time.Duration
	CPUWeight      uint64 // 1…10000; 0 = unset
	IOWeight       uint64 // 1…10000; 0 = unset
	// IODevices are IODeviceWeight=, IOReadBandwidthMax=, … in order.
	IODevices   []IODevice
	AllowedCPUs []int
	// AllowedMemoryNodes are the NUMA nodes of the cpuset.
	AllowedMemoryNodes []int
}

// IODevice is one per-device I/O setting.
type IODevice struct {
	Path  string // a block device node, or a file on the device
	Kind  string // weight, rbps, wbps, riops, wiops
	Value uint64
}

// Amount is a resource-control value: a number, a share of a whole only
// the manager knows (Percent: of physical memory, of the system's task
// limit), or infinity.
type Amount struct {
	Value    uint64
	Percent  float64
	Infinity bool
}

// Resolve gives the amount against whole; infinity is math.MaxUint64.
func (a Amount) Resolve(whole uint64) uint64 {
	switch {
	case a.Infinity:
		return math.MaxUint64
	case a.Percent > 0:
		return uint64(float64(whole) * a.Percent / 100)
	}
	return a.Value
}

// String renders the amount as written in a unit.
func (a Amount) String() string {
	switch {
	case a.Infinity:
		return "infinity"
	case a.Percent > 0:
		return strconv.FormatFloat(a.Percent, 'f', -1, 64) + "%"
	}
	return strconv.FormatUint(a.Value, 10)
}

// Set reports whether any setting needs a controller.
func (r *ResourceContext) Set() bool {
	return r.MemoryMin != nil || r.MemoryLow != nil || r.MemoryHigh != nil || r.MemoryMax != nil ||
		r.MemorySwapMax != nil || r.TasksMax != nil || r.CPUQuota > 0 || r.CPUWeight > 0 ||
		r.IOWeight > 0 || len(r.IODevices) > 0 || len(r.AllowedCPUs) > 0 || len(r.AllowedMemoryNodes) > 0
}

// ParseAmount parses "infinity", "N%" or a number; with sizes, the
// number takes K, M, G, T suffixes (powers of 1024).
func ParseAmount(s string, sizes bool) (Amount, error) {
	if s == "infinity" {
		return Amount{Infinity: true}, nil
	}
	if p, ok := strings.CutSuffix(s, "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v <= 0 || v > 100 || strings.ContainsAny(p, "eEnNxX+") {
			return Amount{}, fmt.Errorf("invalid percentage %q", s)
		}
		return Amount{Percent: v}, nil
	}
	if sizes {
		v, err := ParseSize(s)
		return Amount{Value: v}, err
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return Amount{}, fmt.Errorf("invalid number %q", s)
	}
	return Amount{Value: v}, nil
}

// ParseIODevice parses "PATH VALUE" of IODeviceWeight= (a weight) and of
// IO{Read,Write}{Bandwidth,IOPS}Max= (K, M, G, T: powers of 1000, or
// "infinity").
func ParseIODevice(kind, s string) (IODevice, error) {
	path, val, ok := strings.Cut(strings.TrimSpace(s), " ")
	val = strings.TrimSpace(val)
	if !ok || !strings.HasPrefix(path, "/") || val == "" {
		return IODevice{}, errors.New("expected an absolute device path and a value")
	}
	d := IODevice{Path: path, Kind: kind}
	if kind == "weight" {
		n, err := strconv.ParseUint(val, 10, 64)
		if err != nil || n < 1 || n > 10000 {
			return IODevice{}, fmt.Errorf("invalid weight %q (1…10000)", val)
		}
		d.Value = n
		return d, nil
	}
	if val == "infinity" {
		d.Value = math.MaxUint64
		return d, nil
	}
	mult := uint64(1)
	if i := strings.IndexByte("KMGT", val[len(val)-1]); i >= 0 {
		mult = uint64(math.Pow(1000, float64(i+1)))
		val = val[:len(val)-1]
	}
	n, err := strconv.ParseUint(val, 10, 64)
	if err != nil || n == 0 || n > math.MaxUint64/mult {
		return IODevice{}, fmt.Errorf("invalid limit %q", val)
	}
	d.Value = n * mult
	return d, nil
}

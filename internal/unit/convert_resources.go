package unit

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ioKinds maps the per-device I/O directives to IODevice kinds.
var ioKinds = map[string]string{
	"IODeviceWeight": "weight", "IOReadBandwidthMax": "rbps", "IOWriteBandwidthMax": "wbps",
	"IOReadIOPSMax": "riops", "IOWriteIOPSMax": "wiops",
}

// resourceEntry types the systemd.resource-control(5) settings tend
// applies.
func (c *converter) resourceEntry(e Entry) bool {
	r := &c.rareSettings().res
	if dst := amountSetting(r, e.Key); dst != nil {
		c.amount(e, dst, e.Key != "TasksMax")
		return true
	}
	if kind, ok := ioKinds[e.Key]; ok {
		if e.Value == "" {
			r.IODevices = nil
			return true
		}
		d, err := ParseIODevice(kind, e.Value)
		if err != nil {
			c.bad(e, err)
			return true
		}
		r.IODevices = append(r.IODevices, d)
		return true
	}
	switch e.Key {
	case "CPUAccounting", "MemoryAccounting", "TasksAccounting", "IOAccounting":
		// tend accounts wherever the controller exists: nothing to switch.
		var b bool
		c.boolean(e, &b)
	case "CPUQuota":
		c.cpuQuota(e, r)
	case "CPUQuotaPeriodSec":
		if d, ok := c.timespan(e, time.Second); ok {
			r.CPUQuotaPeriod = d
		}
	case "CPUWeight", "IOWeight":
		c.weight(e, map[string]*uint64{"CPUWeight": &r.CPUWeight, "IOWeight": &r.IOWeight}[e.Key])
	case "AllowedCPUs", "AllowedMemoryNodes":
		set, err := ParseCPUSet(e.Value)
		if err != nil {
			c.bad(e, err)
		} else if e.Key == "AllowedCPUs" {
			r.AllowedCPUs = set
		} else {
			r.AllowedMemoryNodes = set
		}
	default:
		return false
	}
	return true
}

// amountSetting is the limit key names in r, or nil (a switch: see
// sandboxBool).
func amountSetting(r *ResourceContext, key string) **Amount {
	switch key {
	case "MemoryMin":
		return &r.MemoryMin
	case "MemoryLow":
		return &r.MemoryLow
	case "MemoryHigh":
		return &r.MemoryHigh
	case "MemoryMax":
		return &r.MemoryMax
	case "MemorySwapMax":
		return &r.MemorySwapMax
	case "TasksMax":
		return &r.TasksMax
	}
	return nil
}

func (c *converter) amount(e Entry, dst **Amount, sizes bool) {
	if e.Value == "" {
		*dst = nil
		return
	}
	a, err := ParseAmount(e.Value, sizes)
	if err != nil {
		c.bad(e, err)
		return
	}
	*dst = &a
}

func (c *converter) cpuQuota(e Entry, r *ResourceContext) {
	if e.Value == "" {
		r.CPUQuota = 0
		return
	}
	p, ok := strings.CutSuffix(e.Value, "%")
	v, err := strconv.ParseFloat(p, 64)
	if !ok || err != nil || v <= 0 {
		c.bad(e, fmt.Errorf("invalid CPU quota %q (a percentage above 0)", e.Value))
		return
	}
	r.CPUQuota = v
}

// weight parses CPUWeight=/IOWeight=: 1…10000, "idle" (CPU: the least
// weight) or empty (unset).
func (c *converter) weight(e Entry, dst *uint64) {
	switch {
	case e.Value == "":
		*dst = 0
	case e.Value == "idle" && e.Key == "CPUWeight":
		*dst = 1
	default:
		n, err := strconv.ParseUint(e.Value, 10, 64)
		if err != nil || n < 1 || n > 10000 {
			c.bad(e, fmt.Errorf("invalid weight %q (1…10000)", e.Value))
			return
		}
		*dst = n
	}
}

package unit

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Value sets of the process settings, as systemd.exec(5) lists them.
var (
	numaPolicies   = []string{"default", "preferred", "bind", "interleave", "local"}
	ioClasses      = []string{"realtime", "best-effort", "idle"}
	cpuPolicies    = []string{"other", "batch", "idle", "fifo", "rr"}
	personalities  = []string{"x86", "x86-64", "arm64", "arm64-be", "arm", "arm-be", "ppc", "ppc64", "ppc64-le", "s390", "s390x"}
	secureBitNames = []string{"keep-caps", "keep-caps-locked", "no-setuid-fixup", "no-setuid-fixup-locked", "noroot", "noroot-locked"}
)

// procEntry types the settings of ProcContext.
func (c *converter) procEntry(e Entry) bool {
	p := &c.rareSettings().proc
	switch e.Key {
	case "IgnoreSIGPIPE":
		ignore := true
		c.boolean(e, &ignore)
		p.SIGPIPEDefault = !ignore
	case "TTYReset":
		c.boolean(e, &p.TTYReset)
	case "TTYVHangup":
		c.boolean(e, &p.TTYVHangup)
	case "CPUSchedulingResetOnFork":
		c.boolean(e, &p.CPUSchedulingResetOnFork)
	case "CPUAffinity", "NUMAMask":
		c.cpuSet(e, p)
	case "NUMAPolicy":
		c.oneOf(e, numaPolicies, &p.NUMAPolicy)
	case "IOSchedulingClass":
		v := e.Value
		if n := map[string]string{"0": "", "1": "realtime", "2": "best-effort", "3": "idle"}; n[v] != "" {
			v = n[v] // the numbers of ioprio_set(2)
		}
		c.oneOf(Entry{Key: e.Key, Value: v, File: e.File, Line: e.Line}, ioClasses, &p.IOSchedulingClass)
	case "IOSchedulingPriority":
		var n int
		if c.integer(e, &n, 0, 7) {
			p.IOSchedulingPriority = &n
		}
	case "CPUSchedulingPolicy":
		c.oneOf(e, cpuPolicies, &p.CPUSchedulingPolicy)
	case "CPUSchedulingPriority":
		var n int
		if c.integer(e, &n, 0, 99) {
			p.CPUSchedulingPriority = &n
		}
	case "Personality":
		c.oneOf(e, personalities, &p.Personality)
	case "SecureBits":
		c.secureBits(e, p)
	case "ExecSearchPath":
		c.searchPath(e, p)
	case "SetCredential", "LoadCredential":
		c.credential(e, p)
	default:
		return false
	}
	return true
}

// oneOf sets *dst to e's value if it is one of allowed; "" resets.
func (c *converter) oneOf(e Entry, allowed []string, dst *string) {
	if e.Value == "" || slices.Contains(allowed, e.Value) {
		*dst = e.Value
		return
	}
	c.bad(e, fmt.Errorf("unknown value %q (one of %s)", e.Value, strings.Join(allowed, ", ")))
}

func (c *converter) cpuSet(e Entry, p *ProcContext) {
	dst := &p.CPUAffinity
	if e.Key == "NUMAMask" {
		dst = &p.NUMAMask
	}
	v, ok := c.expand(e)
	if !ok {
		return
	}
	if v == "numa" && e.Key == "CPUAffinity" {
		c.bad(e, fmt.Errorf("CPUAffinity=numa is not supported by tend"))
		return
	}
	set, err := ParseCPUSet(v)
	if err != nil {
		c.bad(e, err)
		return
	}
	if v == "" {
		*dst = nil
		return
	}
	*dst = append(*dst, set...)
	slices.Sort(*dst)
	*dst = slices.Compact(*dst)
}

func (c *converter) secureBits(e Entry, p *ProcContext) {
	if e.Value == "" {
		p.SecureBits = nil
		return
	}
	for _, w := range strings.Fields(e.Value) {
		if !slices.Contains(secureBitNames, w) {
			c.bad(e, fmt.Errorf("unknown secure bit %q", w))
			return
		}
		p.SecureBits = append(p.SecureBits, w)
	}
}

func (c *converter) searchPath(e Entry, p *ProcContext) {
	v, ok := c.expand(e)
	if !ok {
		return
	}
	if v == "" {
		p.ExecSearchPath = nil
		return
	}
	for _, d := range strings.Split(v, ":") {
		if !filepath.IsAbs(d) {
			c.bad(e, fmt.Errorf("path %q is not absolute", d))
			return
		}
		p.ExecSearchPath = append(p.ExecSearchPath, filepath.Clean(d))
	}
}

// credential adds SetCredential= or LoadCredential=; an empty value
// resets both lists of that kind.
func (c *converter) credential(e Entry, p *ProcContext) {
	load := e.Key == "LoadCredential"
	v, ok := c.expand(e)
	if !ok {
		return
	}
	if v == "" {
		p.Credentials = slices.DeleteFunc(p.Credentials, func(cr Credential) bool { return cr.Load == load })
		return
	}
	cr, err := ParseCredential(v, load)
	if err != nil {
		c.bad(e, err)
		return
	}
	p.Credentials = append(p.Credentials, cr)
}

package unit

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ProcContext holds the process settings of systemd.exec(5) that the
// exec helper applies (scheduling, CPU and memory placement, personality,
// secure bits, terminal handling) and the unit's credentials.
type ProcContext struct {
	// SIGPIPEDefault is IgnoreSIGPIPE=no: the process starts with
	// SIGPIPE's default action. The default (yes) costs nothing: the
	// daemon ignores SIGPIPE and its children inherit that.
	SIGPIPEDefault bool
	CPUAffinity    []int
	// NUMAPolicy is default, preferred, bind, interleave or local ("" = unset).
	NUMAPolicy string
	NUMAMask   []int
	// IOSchedulingClass is realtime, best-effort or idle ("" = unset).
	IOSchedulingClass    string
	IOSchedulingPriority *int // 0 (highest) … 7
	// CPUSchedulingPolicy is other, batch, idle, fifo or rr ("" = unset).
	CPUSchedulingPolicy      string
	CPUSchedulingPriority    *int
	CPUSchedulingResetOnFork bool
	Personality              string // x86-64, x86, … ("" = unset)
	SecureBits               []string
	TTYReset, TTYVHangup     bool
	// ExecSearchPath replaces the default search path of bare command
	// names (and PATH, unless the unit sets PATH itself).
	ExecSearchPath []string
	Credentials    []Credential
}

// Credential is one SetCredential= or LoadCredential= entry.
type Credential struct {
	ID   string
	Data []byte // SetCredential=
	// Path is LoadCredential='s source: an absolute file, or a name looked
	// up in the credential stores ("" = the ID).
	Path string
	Load bool
}

// Set reports whether any setting needs the exec helper.
func (p *ProcContext) Set() bool {
	return p.SIGPIPEDefault || len(p.CPUAffinity) > 0 || p.NUMAPolicy != "" || p.IOSchedulingClass != "" ||
		p.IOSchedulingPriority != nil || p.CPUSchedulingPolicy != "" || p.CPUSchedulingPriority != nil ||
		p.CPUSchedulingResetOnFork || p.Personality != "" || len(p.SecureBits) > 0
}

// ParseCPUSet parses a CPU (or NUMA node) list: numbers and ranges
// separated by blanks or commas ("0-3 5,7"). An empty value is the empty
// set. The result is sorted and without duplicates.
func ParseCPUSet(s string) ([]int, error) {
	var out []int
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
		lo, hi, isRange := strings.Cut(w, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b >= 8192 {
			return nil, fmt.Errorf("invalid CPU range %q", w)
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ParseCredential parses "ID:VALUE" of SetCredential= (load false; VALUE
// with C escapes) or "ID[:PATH]" of LoadCredential= (load true).
func ParseCredential(s string, load bool) (Credential, error) {
	id, val, hasVal := strings.Cut(s, ":")
	if id == "" || strings.ContainsAny(id, "/") || id == "." || id == ".." || len(id) > 255 {
		return Credential{}, fmt.Errorf("invalid credential name %q", id)
	}
	if load {
		if val != "" && strings.Contains(val, "..") {
			return Credential{}, fmt.Errorf("credential path %q contains ..", val)
		}
		if val != "" && !filepath.IsAbs(val) && strings.Contains(val, "/") {
			return Credential{}, fmt.Errorf("credential path %q is neither absolute nor a plain name", val)
		}
		return Credential{ID: id, Path: val, Load: true}, nil
	}
	if !hasVal {
		return Credential{}, errors.New("missing ':' and value")
	}
	data, err := unescapeAll(val)
	if err != nil {
		return Credential{}, err
	}
	return Credential{ID: id, Data: []byte(data)}, nil
}

// unescapeAll decodes every C escape of v.
func unescapeAll(v string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			b.WriteByte(v[i])
			continue
		}
		r, n, err := cUnescape(v[i:])
		if err != nil {
			return "", err
		}
		b.WriteString(r)
		i += n - 1
	}
	return b.String(), nil
}

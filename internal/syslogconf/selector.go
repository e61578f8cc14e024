package syslogconf

import (
	"fmt"
	"strings"
)

// NumFacilities is the number of syslog facilities (0 kern … 23 local7).
const NumFacilities = 24

// facilities maps facility names to numbers. "security" is the old name
// of auth; "mark" is syslogd's internal timestamp facility, which tend
// never produces, so a selector naming it selects nothing.
var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "security": 4,
	"syslog": 5, "lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10,
	"ftp": 11, "ntp": 12, "audit": 13, "alert": 14, "clock": 15,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
	"mark": -1,
}

// priorities maps priority names to levels (0 emerg … 7 debug), with the
// deprecated aliases syslogd still accepts.
var priorities = map[string]int{
	"emerg": 0, "panic": 0, "alert": 1, "crit": 2, "err": 3, "error": 3,
	"warning": 4, "warn": 4, "notice": 5, "info": 6, "debug": 7,
}

// Selector says, per facility, which priorities are selected: bit p of
// Selector[f] is set when priority p of facility f is.
type Selector [NumFacilities]uint8

// Match reports whether the selector selects a message of facility fac
// and priority pri.
func (s *Selector) Match(fac, pri int) bool {
	return fac >= 0 && fac < NumFacilities && pri >= 0 && pri < 8 && s[fac]&(1<<pri) != 0
}

// Empty reports whether the selector selects nothing.
func (s *Selector) Empty() bool { return *s == Selector{} }

// ParseSelector parses "fac[,fac…].[!][=]pri[;…]". The parts apply left to
// right, each to the facilities it names, so a later part overrides an
// earlier one: "*.*;auth,authpriv.none" is everything but auth and
// authpriv. "pri" selects that priority and the more severe ones, "=pri"
// that priority only, "!" turns the selection off instead of on, "none"
// clears the facilities and "*" is every priority (every facility before
// the dot).
func ParseSelector(s string) (Selector, error) {
	var sel Selector
	if s == "" {
		return sel, fmt.Errorf("empty selector")
	}
	for _, part := range strings.Split(s, ";") {
		if err := sel.apply(part); err != nil {
			return Selector{}, err
		}
	}
	return sel, nil
}

// apply adds one "facilities.priority" part to sel.
func (sel *Selector) apply(part string) error {
	i := strings.LastIndexByte(part, '.')
	if i <= 0 || i == len(part)-1 {
		return fmt.Errorf("selector %q: want FACILITY.PRIORITY", part)
	}
	facs, pri := part[:i], strings.ToLower(part[i+1:])
	neg := strings.HasPrefix(pri, "!")
	pri = strings.TrimPrefix(pri, "!")
	only := strings.HasPrefix(pri, "=")
	pri = strings.TrimPrefix(pri, "=")
	var bits uint8
	clear := false
	switch p, ok := priorities[pri]; {
	case pri == "none":
		clear = true
	case pri == "*":
		bits = 0xff
	case !ok:
		return fmt.Errorf("selector %q: unknown priority %q", part, pri)
	case only:
		bits = 1 << p
	default:
		bits = uint8(1<<(p+1) - 1) // p and every more severe level
	}
	switch {
	case only && (pri == "none" || pri == "*"), neg && pri == "none":
		return fmt.Errorf("selector %q: %q cannot follow = or !", part, pri)
	case neg && pri == "*":
		clear = true // "!*" is "none"
	}
	nums, err := parseFacilities(facs)
	if err != nil {
		return fmt.Errorf("selector %q: %w", part, err)
	}
	for _, f := range nums {
		switch {
		case clear:
			sel[f] = 0
		case neg:
			sel[f] &^= bits
		default:
			sel[f] |= bits
		}
	}
	return nil
}

// parseFacilities parses "fac[,fac…]" or "*" into facility numbers.
func parseFacilities(s string) ([]int, error) {
	var out []int
	for _, name := range strings.Split(s, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "*" {
			for f := range NumFacilities {
				out = append(out, f)
			}
			continue
		}
		f, ok := facilities[name]
		if !ok {
			return nil, fmt.Errorf("unknown facility %q", name)
		}
		if f >= 0 {
			out = append(out, f)
		}
	}
	return out, nil
}

package unit

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// ParseBool parses systemd's booleans: 1/yes/y/true/t/on and
// 0/no/n/false/f/off, case-insensitively.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "yes", "y", "true", "t", "on":
		return true, nil
	case "0", "no", "n", "false", "f", "off":
		return false, nil
	}
	return false, fmt.Errorf("invalid boolean %q", s)
}

// timeUnits maps systemd.time(7) unit names to their length.
var timeUnits = map[string]time.Duration{
	"us": time.Microsecond, "usec": time.Microsecond, "µs": time.Microsecond, "μs": time.Microsecond,
	"ms": time.Millisecond, "msec": time.Millisecond,
	"s": time.Second, "sec": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	"w": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour, "weeks": 7 * 24 * time.Hour,
	"M": 2629800 * time.Second, "month": 2629800 * time.Second, "months": 2629800 * time.Second,
	"y": 31557600 * time.Second, "year": 31557600 * time.Second, "years": 31557600 * time.Second,
	"ns": time.Nanosecond, "nsec": time.Nanosecond,
}

// ParseTimespan parses a time span per systemd.time(7): a sequence of
// numbers with units ("5min 20s", "1h30m", "1.5h"), a bare number in
// units of def, or "infinity" (returned as Infinity).
func ParseTimespan(s string, def time.Duration) (time.Duration, error) {
	in := s
	s = strings.TrimSpace(s)
	if s == "infinity" {
		return Infinity, nil
	}
	if s == "" {
		return 0, errors.New("empty time span")
	}
	var total float64
	for s != "" {
		n := 0
		for n < len(s) && (s[n] >= '0' && s[n] <= '9' || s[n] == '.') {
			n++
		}
		if n == 0 || strings.Count(s[:n], ".") > 1 || s[n-1] == '.' {
			return 0, fmt.Errorf("invalid time span %q", in)
		}
		num, err := strconv.ParseFloat(s[:n], 64)
		if err != nil {
			return 0, fmt.Errorf("invalid time span %q", in)
		}
		s = strings.TrimLeft(s[n:], " \t")
		u := 0
		for u < len(s) {
			r, size := utf8.DecodeRuneInString(s[u:])
			if r == ' ' || r == '\t' || r >= '0' && r <= '9' || r == '.' {
				break
			}
			u += size
		}
		unit := def
		if u > 0 {
			var ok bool
			if unit, ok = timeUnits[s[:u]]; !ok {
				return 0, fmt.Errorf("invalid time span %q: unknown unit %q", in, s[:u])
			}
		}
		total += num * float64(unit)
		if total >= float64(Infinity) {
			return 0, fmt.Errorf("time span %q out of range", in)
		}
		s = strings.TrimLeft(s[u:], " \t")
	}
	return time.Duration(math.Round(total)), nil
}

// FormatTimespan renders d the way systemd prints time spans ("1min 30s",
// "100ms", "infinity").
func FormatTimespan(d time.Duration) string {
	if d == Infinity {
		return "infinity"
	}
	if d == 0 {
		return "0"
	}
	parts := []struct {
		name string
		d    time.Duration
	}{
		{"y", 31557600 * time.Second}, {"month", 2629800 * time.Second}, {"w", 7 * 24 * time.Hour},
		{"d", 24 * time.Hour}, {"h", time.Hour}, {"min", time.Minute}, {"s", time.Second},
		{"ms", time.Millisecond}, {"us", time.Microsecond}, {"ns", time.Nanosecond},
	}
	var out []string
	for _, p := range parts {
		if d >= p.d {
			out = append(out, fmt.Sprintf("%d%s", d/p.d, p.name))
			d %= p.d
		}
	}
	return strings.Join(out, " ")
}

// ParseSignal parses a signal by name ("SIGTERM", "TERM") or number.
func ParseSignal(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return n, nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return int(sig), nil
	}
	if strings.HasPrefix(name, "SIGRTMIN+") || strings.HasPrefix(name, "SIGRTMAX-") {
		off, err := strconv.Atoi(name[9:])
		if err == nil && off >= 0 && off <= 30 {
			if name[6] == 'I' {
				return 34 + off, nil
			}
			return 64 - off, nil
		}
	}
	return 0, fmt.Errorf("invalid signal %q", s)
}

// ParseExitStatusSet parses SuccessExitStatus= and friends: exit codes
// 0–255 and signal names, separated by whitespace.
func ParseExitStatusSet(s string) (ExitStatusSet, error) {
	var set ExitStatusSet
	for _, w := range strings.Fields(s) {
		if n, err := strconv.Atoi(w); err == nil {
			if n < 0 || n > 255 {
				return set, fmt.Errorf("exit status %q out of range 0…255", w)
			}
			set.Codes = append(set.Codes, n)
			continue
		}
		if n, ok := exitStatusNames[w]; ok {
			set.Codes = append(set.Codes, n)
			continue
		}
		if !strings.HasPrefix(strings.ToUpper(w), "SIG") {
			return set, fmt.Errorf("invalid exit status or signal %q", w)
		}
		sig, err := ParseSignal(w)
		if err != nil {
			return set, err
		}
		set.Signals = append(set.Signals, sig)
	}
	return set, nil
}

// ParseMode parses an octal file mode such as UMask=0022.
func ParseMode(s string) (uint32, error) {
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 07777 {
		return 0, fmt.Errorf("invalid mode %q", s)
	}
	return uint32(v), nil
}

// RlimInfinity is RLIM_INFINITY.
const RlimInfinity = ^uint64(0)

// rlimitKinds says how the value of each Limit*= is written.
var rlimitKinds = map[string]byte{
	"CPU": 't', "FSIZE": 'b', "DATA": 'b', "STACK": 'b', "CORE": 'b', "RSS": 'b',
	"NOFILE": 'n', "AS": 'b', "NPROC": 'n', "MEMLOCK": 'b', "LOCKS": 'n',
	"SIGPENDING": 'n', "MSGQUEUE": 'b', "NICE": 'i', "RTPRIO": 'n', "RTTIME": 'u',
}

// ParseRlimit parses the value of Limit<name>= (name as in "NOFILE"):
// one value or "soft:hard", each a number, "infinity", a size with a
// K/M/G/T/P/E suffix (base 1024) for byte limits, a time span for CPU
// (seconds) and RTTIME (microseconds), or a nice level for NICE.
func ParseRlimit(name, s string) (Rlimit, error) {
	kind, ok := rlimitKinds[name]
	if !ok {
		return Rlimit{}, fmt.Errorf("unknown resource limit %q", name)
	}
	softS, hardS, two := strings.Cut(s, ":")
	soft, err := parseRlimValue(kind, softS)
	if err != nil {
		return Rlimit{}, fmt.Errorf("invalid Limit%s= value %q: %w", name, s, err)
	}
	hard := soft
	if two {
		if hard, err = parseRlimValue(kind, hardS); err != nil {
			return Rlimit{}, fmt.Errorf("invalid Limit%s= value %q: %w", name, s, err)
		}
		if soft > hard {
			return Rlimit{}, fmt.Errorf("invalid Limit%s= value %q: soft limit above hard limit", name, s)
		}
	}
	return Rlimit{Soft: soft, Hard: hard}, nil
}

func parseRlimValue(kind byte, s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if s == "infinity" {
		return RlimInfinity, nil
	}
	switch kind {
	case 'b':
		return ParseSize(s)
	case 't', 'u':
		def := time.Second
		if kind == 'u' {
			def = time.Microsecond
		}
		d, err := ParseTimespan(s, def)
		if err != nil {
			return 0, err
		}
		if kind == 't' {
			// Round up so "500ms" does not become an unlimited 0.
			return uint64((d + time.Second - 1) / time.Second), nil
		}
		return uint64(d / time.Microsecond), nil
	case 'i':
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, err
		}
		if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") || n > 40 {
			if n < -20 || n > 19 {
				return 0, errors.New("nice level out of range")
			}
			return uint64(20 - n), nil
		}
		return uint64(n), nil
	}
	return strconv.ParseUint(s, 10, 64)
}

// ParseSize parses a byte count with an optional K, M, G, T, P or E
// suffix (powers of 1024) and an optional trailing "B".
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSuffix(strings.TrimSpace(s), "B")
	mult := uint64(1)
	if t != "" {
		if i := strings.IndexByte("KMGTPE", t[len(t)-1]); i >= 0 {
			mult = 1 << (10 * (i + 1))
			t = t[:len(t)-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || strings.ContainsAny(t, "eEnNxX+-") {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	r := v * float64(mult)
	if r >= float64(RlimInfinity) {
		return 0, fmt.Errorf("size %q out of range", s)
	}
	return uint64(r), nil
}

// exitStatusNames are the symbolic exit statuses systemd accepts in
// SuccessExitStatus= and friends: its own (200…), the LSB ones and
// BSD sysexits.h.
var exitStatusNames = map[string]int{
	"SUCCESS": 0, "FAILURE": 1, "INVALIDARGUMENT": 2, "NOTIMPLEMENTED": 3,
	"NOPERMISSION": 4, "NOTINSTALLED": 5, "NOTCONFIGURED": 6, "NOTRUNNING": 7,
	"USAGE": 64, "DATAERR": 65, "NOINPUT": 66, "NOUSER": 67, "NOHOST": 68,
	"UNAVAILABLE": 69, "SOFTWARE": 70, "OSERR": 71, "OSFILE": 72, "CANTCREAT": 73,
	"IOERR": 74, "TEMPFAIL": 75, "PROTOCOL": 76, "NOPERM": 77, "CONFIG": 78,
	"CHDIR": 200, "NICE": 201, "FDS": 202, "EXEC": 203, "MEMORY": 204, "LIMITS": 205,
	"OOM_ADJUST": 206, "SIGNAL_MASK": 207, "STDIN": 208, "STDOUT": 209, "CHROOT": 210,
	"IOPRIO": 211, "TIMERSLACK": 212, "SECUREBITS": 213, "SETSCHEDULER": 214,
	"CPUAFFINITY": 215, "GROUP": 216, "USER": 217, "CAPABILITIES": 218, "CGROUP": 219,
	"SETSID": 220, "CONFIRM": 221, "STDERR": 222, "PAM": 224, "NETWORK": 225,
	"NAMESPACE": 226, "NO_NEW_PRIVILEGES": 227, "SECCOMP": 228, "SELINUX_CONTEXT": 229,
	"PERSONALITY": 230, "APPARMOR_PROFILE": 231, "ADDRESS_FAMILIES": 232,
	"RUNTIME_DIRECTORY": 233, "CHOWN": 235, "SMACK_PROCESS_LABEL": 236, "KEYRING": 237,
	"STATE_DIRECTORY": 238, "CACHE_DIRECTORY": 239, "LOGS_DIRECTORY": 240,
	"CONFIGURATION_DIRECTORY": 241, "NUMA_POLICY": 242, "CREDENTIALS": 243, "BPF": 245,
}

package procfs

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// TTYNames turns the tty_nr of a stat file into the name procps prints
// ("pts/3", "tty1", "ttyS0", "console"), using /proc/tty/drivers for
// devices it has no rule for.
type TTYNames struct {
	drivers []ttyDriver
	cache   map[uint64]string
}

type ttyDriver struct {
	dev        string // "/dev/ttyS"
	major      uint32
	minLo, hiM uint32
}

// TTYNames reads /proc/tty/drivers (when readable) and returns a namer.
func (r *Reader) TTYNames() *TTYNames {
	t := &TTYNames{cache: map[uint64]string{}}
	if b, err := r.read(r.FS.Path("tty/drivers")); err == nil {
		t.drivers = ParseTTYDrivers(b)
	}
	return t
}

// ParseTTYDrivers parses /proc/tty/drivers lines ("serial /dev/ttyS 4 64-111 serial").
func ParseTTYDrivers(b []byte) []ttyDriver {
	var out []ttyDriver
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		major, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		lo, hi, ok := strings.Cut(f[3], "-")
		l, err1 := strconv.ParseUint(lo, 10, 32)
		h := l
		var err2 error
		if ok {
			h, err2 = strconv.ParseUint(hi, 10, 32)
		}
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, ttyDriver{dev: f[1], major: uint32(major), minLo: uint32(l), hiM: uint32(h)})
	}
	return out
}

// Name returns the terminal name for a tty_nr; "?" when there is none.
func (t *TTYNames) Name(dev uint64) string {
	if dev == 0 {
		return "?"
	}
	if s, ok := t.cache[dev]; ok {
		return s
	}
	s := t.name(dev)
	t.cache[dev] = s
	return s
}

func (t *TTYNames) name(dev uint64) string {
	major, minor := unix.Major(dev), unix.Minor(dev)
	switch {
	case major >= 136 && major <= 143:
		return "pts/" + strconv.FormatUint(uint64(minor)+uint64(major-136)*256, 10)
	case major == 4 && minor < 64:
		return "tty" + strconv.FormatUint(uint64(minor), 10)
	case major == 4:
		return "ttyS" + strconv.FormatUint(uint64(minor-64), 10)
	case major == 5 && minor == 1:
		return "console"
	case major == 5 && minor == 0:
		return "tty"
	}
	for _, d := range t.drivers {
		if d.major != major || minor < d.minLo || minor > d.hiM {
			continue
		}
		name := strings.TrimPrefix(d.dev, "/dev/")
		if d.minLo == d.hiM {
			return name
		}
		return name + strconv.FormatUint(uint64(minor-d.minLo), 10)
	}
	return strconv.FormatUint(uint64(major), 10) + "," + strconv.FormatUint(uint64(minor), 10)
}

package procfs

import (
	"bytes"
	"fmt"
	"math"
)

// CgroupLine is one line of /proc/PID/cgroup: hierarchy id, the v1
// controllers ("" for the v2 line "0::"), and the path in that hierarchy.
type CgroupLine struct {
	ID          int
	Controllers string
	Path        string
}

// Cgroups reads /proc/PID/cgroup.
func (r *Reader) Cgroups(pid int) ([]CgroupLine, error) {
	b, err := r.read(r.FS.pidPath(pid, "cgroup"))
	if err != nil {
		return nil, err
	}
	return ParseCgroups(b)
}

// MainCgroup reads /proc/PID/cgroup and returns the path that best names
// the process's cgroup (see MainCgroup), allocating only that string: a
// hybrid host lists a dozen hierarchies per process.
func (r *Reader) MainCgroup(pid int) (string, error) {
	b, err := r.read(r.FS.pidPath(pid, "cgroup"))
	if err != nil {
		return "", err
	}
	return ParseMainCgroup(b)
}

// ParseCgroups parses the content of a cgroup file. Paths may contain ':'
// (only the first two separate fields).
func ParseCgroups(b []byte) ([]CgroupLine, error) {
	var out []CgroupLine
	err := eachCgroupLine(b, func(id int, ctrl, path []byte) {
		out = append(out, CgroupLine{ID: id, Controllers: string(ctrl), Path: string(path)})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ParseMainCgroup is MainCgroup(ParseCgroups(b)) without the slice.
func ParseMainCgroup(b []byte) (string, error) {
	var best []byte
	rank := -1
	err := eachCgroupLine(b, func(id int, ctrl, path []byte) {
		if r := cgroupRank(id, ctrl); r > rank {
			best, rank = path, r
		}
	})
	if err != nil {
		return "", err
	}
	return string(best), nil
}

// eachCgroupLine calls f with the fields of each line of a cgroup file.
func eachCgroupLine(b []byte, f func(id int, ctrl, path []byte)) error {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) == 0 {
			continue
		}
		c1 := bytes.IndexByte(line, ':')
		if c1 < 0 {
			return fmt.Errorf("cgroup: no ':' in %q", trim(line))
		}
		c2 := bytes.IndexByte(line[c1+1:], ':')
		if c2 < 0 {
			return fmt.Errorf("cgroup: one ':' in %q", trim(line))
		}
		id, ok := atoi(line[:c1])
		if !ok || id < 0 || id > math.MaxInt32 {
			return fmt.Errorf("cgroup: bad hierarchy id in %q", trim(line))
		}
		f(int(id), line[c1+1:c1+1+c2], line[c1+2+c2:])
	}
	return nil
}

// MainCgroup picks the path that best names a process's cgroup: the v2
// line, else the name=systemd-style line, else the pids or first v1 line.
func MainCgroup(lines []CgroupLine) string {
	best, rank := "", -1
	for _, l := range lines {
		if r := cgroupRank(l.ID, []byte(l.Controllers)); r > rank {
			best, rank = l.Path, r
		}
	}
	return best
}

func cgroupRank(id int, ctrl []byte) int {
	switch {
	case id == 0 && len(ctrl) == 0:
		return 4
	case bytes.HasPrefix(ctrl, []byte("name=")):
		return 3
	case string(ctrl) == "pids":
		return 2
	}
	return 1
}

package procfs

import (
	"bytes"
	"fmt"
	"strconv"
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

// ParseCgroups parses the content of a cgroup file. Paths may contain ':'
// (only the first two separate fields).
func ParseCgroups(b []byte) ([]CgroupLine, error) {
	var out []CgroupLine
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		c1 := bytes.IndexByte(line, ':')
		if c1 < 0 {
			return nil, fmt.Errorf("cgroup: no ':' in %q", trim(line))
		}
		c2 := bytes.IndexByte(line[c1+1:], ':')
		if c2 < 0 {
			return nil, fmt.Errorf("cgroup: one ':' in %q", trim(line))
		}
		id, err := strconv.Atoi(string(line[:c1]))
		if err != nil || id < 0 {
			return nil, fmt.Errorf("cgroup: bad hierarchy id in %q", trim(line))
		}
		out = append(out, CgroupLine{ID: id, Controllers: string(line[c1+1 : c1+1+c2]), Path: string(line[c1+2+c2:])})
	}
	return out, nil
}

// MainCgroup picks the path that best names a process's cgroup: the v2
// line, else the name=systemd-style line, else the pids or first v1 line.
func MainCgroup(lines []CgroupLine) string {
	best, rank := "", -1
	for _, l := range lines {
		r := 0
		switch {
		case l.ID == 0 && l.Controllers == "":
			r = 4
		case bytes.HasPrefix([]byte(l.Controllers), []byte("name=")):
			r = 3
		case l.Controllers == "pids":
			r = 2
		default:
			r = 1
		}
		if r > rank {
			best, rank = l.Path, r
		}
	}
	return best
}

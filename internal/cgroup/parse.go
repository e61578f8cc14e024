package cgroup

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// mount is one cgroup-related line of /proc/self/mountinfo.
type mount struct {
	root   string // path inside the hierarchy that is mounted
	point  string // mount point
	fstype string
	super  []string // super options: controllers, name=…
}

// under reports whether the mount point lies below dir.
func (mt *mount) under(dir string) bool {
	return strings.HasPrefix(mt.point, strings.TrimSuffix(dir, "/")+"/")
}

// controller returns the super option matching want ("pids", or "name="
// for any named hierarchy), or "".
func (mt *mount) controller(want string) string {
	for _, o := range mt.super {
		if o == want || (want == "name=" && strings.HasPrefix(o, "name=")) {
			return o
		}
	}
	return ""
}

// dirOf maps a cgroup path (as /proc/PID/cgroup shows it) to a directory
// under the mount point, honouring a mount of a sub-tree.
func (mt *mount) dirOf(cg string) (string, bool) {
	if mt.root == "/" {
		return filepath.Join(mt.point, cg), true
	}
	if cg == mt.root {
		return mt.point, true
	}
	rest, ok := strings.CutPrefix(cg, mt.root+"/")
	if !ok {
		return "", false
	}
	return filepath.Join(mt.point, rest), true
}

// readMounts returns the cgroup and cgroup2 mounts listed in a mountinfo
// file.
func readMounts(path string) ([]mount, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseMountinfo(b), nil
}

// parseMountinfo parses proc(5) mountinfo lines, keeping cgroup mounts and
// skipping malformed lines.
func parseMountinfo(b []byte) []mount {
	var out []mount
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+1 >= len(f) {
			continue
		}
		fstype := f[sep+1]
		if fstype != "cgroup" && fstype != "cgroup2" {
			continue
		}
		mt := mount{root: unescapeOctal(f[3]), point: unescapeOctal(f[4]), fstype: fstype}
		if sep+3 < len(f) {
			mt.super = strings.Split(f[sep+3], ",")
		}
		out = append(out, mt)
	}
	return out
}

// unescapeOctal undoes mountinfo's \040-style escapes.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupLine is one line of /proc/PID/cgroup.
type cgroupLine struct {
	id    string
	ctrls []string // empty for the v2 line
	path  string
}

func readCgroupFile(path string) ([]cgroupLine, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseCgroupFile(b)
}

// parseCgroupFile parses "hierarchy-ID:controller-list:cgroup-path" lines.
func parseCgroupFile(b []byte) ([]cgroupLine, error) {
	var out []cgroupLine
	for n, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		id, rest, ok1 := strings.Cut(line, ":")
		ctrls, path, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("line %d: malformed cgroup entry %q", n+1, line)
		}
		l := cgroupLine{id: id, path: path}
		if ctrls != "" {
			l.ctrls = strings.Split(ctrls, ",")
		}
		out = append(out, l)
	}
	return out, nil
}

// ownPath returns the path of the v2 group (ctrl == "") or of the v1
// hierarchy that has ctrl.
func ownPath(lines []cgroupLine, ctrl string) (string, bool) {
	for _, l := range lines {
		if ctrl == "" {
			if l.id == "0" && len(l.ctrls) == 0 {
				return l.path, true
			}
			continue
		}
		for _, c := range l.ctrls {
			if c == ctrl {
				return l.path, true
			}
		}
	}
	return "", false
}

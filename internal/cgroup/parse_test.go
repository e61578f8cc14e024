package cgroup

import (
	"reflect"
	"strings"
	"testing"
)

const mountinfoHybrid = `22 1 0:21 / / rw - ext4 /dev/root rw
30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime shared:9 - cgroup cgroup rw,pids
39 30 0:36 /inner /sys/fs/cgroup/sys\040temd rw,relatime - cgroup cgroup rw,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
garbage line
41 30 0:38 / /x rw - cgroup2
`

func TestParseMountinfo(t *testing.T) {
	got := parseMountinfo([]byte(mountinfoHybrid))
	want := []mount{
		{root: "/", point: "/sys/fs/cgroup/memory", fstype: "cgroup", super: []string{"rw", "memory"}},
		{root: "/", point: "/sys/fs/cgroup/pids", fstype: "cgroup", super: []string{"rw", "pids"}},
		{root: "/inner", point: "/sys/fs/cgroup/sys temd", fstype: "cgroup", super: []string{"rw", "name=systemd"}},
		{root: "/", point: "/sys/fs/cgroup/unified", fstype: "cgroup2", super: []string{"rw", "nsdelegate"}},
		{root: "/", point: "/x", fstype: "cgroup2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseMountinfo =\n%+v\nwant\n%+v", got, want)
	}
	if c := got[2].controller("name="); c != "name=systemd" {
		t.Errorf("controller(name=) = %q", c)
	}
	if c := got[0].controller("pids"); c != "" {
		t.Errorf("memory mount has controller pids: %q", c)
	}
}

func TestMountDirOf(t *testing.T) {
	tests := []struct {
		root, point, cg string
		want            string
		ok              bool
	}{
		{"/", "/sys/fs/cgroup/unified", "/", "/sys/fs/cgroup/unified", true},
		{"/", "/sys/fs/cgroup/unified", "/a/b", "/sys/fs/cgroup/unified/a/b", true},
		{"/inner", "/mnt", "/inner", "/mnt", true},
		{"/inner", "/mnt", "/inner/x", "/mnt/x", true},
		{"/inner", "/mnt", "/innerx", "", false},
		{"/inner", "/mnt", "/other", "", false},
	}
	for _, tt := range tests {
		mt := mount{root: tt.root, point: tt.point}
		got, ok := mt.dirOf(tt.cg)
		if got != tt.want || ok != tt.ok {
			t.Errorf("mount %s at %s: dirOf(%s) = %q, %v; want %q, %v", tt.root, tt.point, tt.cg, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseCgroupFile(t *testing.T) {
	in := "9:name=systemd:/\n4:memory:/process_api/x\n2:cpu,cpuacct:/a\n0::/tend/web.service\n"
	got, err := parseCgroupFile([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ ctrl, want string }{
		{"", "/tend/web.service"}, {"memory", "/process_api/x"}, {"cpuacct", "/a"}, {"name=systemd", "/"},
	} {
		if p, ok := ownPath(got, tt.ctrl); !ok || p != tt.want {
			t.Errorf("ownPath(%q) = %q, %v; want %q", tt.ctrl, p, ok, tt.want)
		}
	}
	if _, ok := ownPath(got, "pids"); ok {
		t.Error("ownPath(pids) found a hierarchy that is not listed")
	}
	for _, bad := range []string{"0:/x", "nonsense", "0::relative"} {
		if _, err := parseCgroupFile([]byte(bad)); err == nil {
			t.Errorf("parseCgroupFile(%q) succeeded", bad)
		}
	}
}

func TestParseStat(t *testing.T) {
	line := "1234 (my (odd) prog) S 1 1234 1234 0 -1 4194560 100 0 0 0 15 7 0 0 20 0 3 0 500 1000000 250 18446744073709551615"
	st, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{pid: 1234, ppid: 1, pgrp: 1234, sid: 1234, state: 'S', utime: 15, stime: 7, threads: 3, rss: 250}
	if st != want {
		t.Errorf("parseStat = %+v; want %+v", st, want)
	}
	for _, bad := range []string{"", "12 (x", "12 (x) S 1", "x (y) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) succeeded", bad)
		}
	}
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add(mountinfoHybrid)
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range parseMountinfo([]byte(s)) {
			if m.fstype != "cgroup" && m.fstype != "cgroup2" {
				t.Fatalf("kept a %s mount", m.fstype)
			}
			m.dirOf("/a")
		}
	})
}

func FuzzParseCgroupFile(f *testing.F) {
	f.Add("0::/tend/x\n4:memory:/\n")
	f.Fuzz(func(t *testing.T, s string) {
		lines, err := parseCgroupFile([]byte(s))
		if err != nil {
			return
		}
		for _, l := range lines {
			if !strings.HasPrefix(l.path, "/") {
				t.Fatalf("path %q not absolute", l.path)
			}
		}
	})
}

func FuzzParseStat(f *testing.F) {
	f.Add("1 (init) S 0 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5 100 10")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := parseStat([]byte(s))
		if err == nil && st.state == 0 {
			t.Fatalf("parsed %q without a state", s)
		}
	})
}

package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hostUnit is one of Debian's sandboxed units run as packaged, with a
// drop-in that only moves it to a free port (and what the test machine
// lacks: a hard file limit of 65535, /dev/log).
type hostUnit struct {
	name, bin string
	dropIn    func(port int, dir string) string
	ask, want string // a request on the port and the start of its answer
	// The sandbox the unit asks for, checked in /proc/PID/status.
	capBnd string
	tmpfs  []string // mount points that must be a private tmpfs
	ro     []string // mount points that must be read-only
	rw     []string // mount points that must be writable
	userNS bool     // PrivateUsers=: a user namespace of its own
	mounts []string // other mount points the sandbox adds
}

var hostUnits = []hostUnit{{
	name: "redis-server.service", bin: "/usr/bin/redis-server",
	dropIn: func(port int, _ string) string {
		return fmt.Sprintf("[Service]\nLimitNOFILE=4096\nExecStart=\nExecStart=/usr/bin/redis-server /etc/redis/redis.conf --supervised systemd --daemonize no --port %d --pidfile /run/redis/test.pid\n", port)
	},
	ask: "PING\r\n", want: "+PONG", capBnd: "0000000000000000", tmpfs: []string{"/tmp", "/dev"},
	ro: []string{"/"}, rw: []string{"/etc/redis"}, // ProtectSystem=strict, ReadWriteDirectories=-/etc/redis
	userNS: true,
}, {
	name: "memcached.service", bin: "/usr/bin/memcached",
	dropIn: func(port int, _ string) string {
		return fmt.Sprintf("[Service]\nExecStart=\nExecStart=/usr/bin/memcached -p %d -U 0 -l 127.0.0.1 -u memcache -m 16\n", port)
	},
	// CAP_SETGID CAP_SETUID CAP_SYS_RESOURCE
	ask: "version\r\n", want: "VERSION", capBnd: "00000000010000c0", tmpfs: []string{"/tmp", "/dev"},
	ro: []string{"/usr", "/etc"}, // ProtectSystem=full
}, {
	name: "haproxy.service", bin: "/usr/sbin/haproxy",
	dropIn: func(port int, dir string) string {
		cfg := filepath.Join(dir, "haproxy.cfg")
		os.WriteFile(cfg, []byte(fmt.Sprintf("global\n\tchroot /var/lib/haproxy\n\tuser haproxy\n\tgroup haproxy\n"+
			"defaults\n\tmode tcp\n\ttimeout connect 5s\n\ttimeout client 5s\n\ttimeout server 5s\n"+
			"frontend test\n\tbind 127.0.0.1:%d\n\tdefault_backend none\nbackend none\n", port)), 0o644)
		log := filepath.Join(dir, "log")
		os.WriteFile(log, nil, 0o644)
		return fmt.Sprintf("[Service]\nBindReadOnlyPaths=\nBindReadOnlyPaths=%s:/var/lib/haproxy/dev/log\n"+
			"Environment=CONFIG=%s PIDFILE=%s EXTRAOPTS=\n", log, cfg, filepath.Join(dir, "haproxy.pid"))
	},
	mounts: []string{"/var/lib/haproxy/dev/log"},
}}

// TestDebianSandboxedUnits starts Debian's redis, memcached and haproxy
// units under tend and checks from outside that their sandboxing is
// applied: capability bounding set, no_new_privs and seccomp in
// /proc/PID/status, a mount namespace of their own with the private
// mounts in /proc/PID/mountinfo; and that they serve.
func TestDebianSandboxedUnits(t *testing.T) {
	units := t.TempDir()
	var run []hostUnit
	for _, h := range hostUnits {
		b, err := os.ReadFile(filepath.Join("/lib/systemd/system", h.name))
		if _, berr := os.Stat(h.bin); err != nil || berr != nil {
			t.Logf("%s: not installed", h.name)
			continue
		}
		os.WriteFile(filepath.Join(units, h.name), b, 0o644)
		run = append(run, h)
	}
	if len(run) == 0 {
		t.Skip("none of redis-server, memcached, haproxy is installed")
	}
	ports := map[string]int{}
	for _, h := range run {
		ports[h.name] = freePort(t)
		d := filepath.Join(units, h.name+".d")
		os.MkdirAll(d, 0o755)
		os.WriteFile(filepath.Join(d, "test.conf"), []byte(h.dropIn(ports[h.name], t.TempDir())), 0o644)
	}
	// tend's runtime directory (notify socket) must be visible to
	// services with PrivateTmp=, as /run/tend is: not under /tmp.
	work, err := os.MkdirTemp("/run", "tend-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	os.Chmod(work, 0o755) // redis reports READY=1 as its own user
	in := launch(t, tendBin, units, work, nil)
	defer func() { in.t = t }() // the subtests borrow the instance
	for _, h := range run {
		t.Run(h.name, func(t *testing.T) {
			in.t = t
			in.mustCtl("start", "--no-block", h.name)
			in.waitState(h.name, "active (running)")
			pid := in.mainPID(h.name)
			checkSandbox(t, h, pid, ports[h.name])
			in.mustCtl("stop", h.name)
		})
	}
}

// checkSandbox checks from outside that the unit's main process pid
// runs sandboxed as h says, and serves on port.
func checkSandbox(t *testing.T, h hostUnit, pid, port int) {
	t.Helper()
	selfNS, _ := os.Readlink("/proc/self/ns/mnt")
	selfUser, _ := os.Readlink("/proc/self/ns/user")
	if ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", pid)); (ns != selfUser) != h.userNS {
		t.Errorf("own user namespace: %v, want %v", ns != selfUser, h.userNS)
	}
	if ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); ns == selfNS {
		t.Errorf("%s runs in the host's mount namespace", h.name)
	}
	if got := procStatus(t, pid, "NoNewPrivs"); got != "1" && h.name != "haproxy.service" {
		t.Errorf("NoNewPrivs: %s, want 1", got)
	}
	if h.capBnd != "" {
		// What the unit keeps of tend's own bounding set.
		want := parseHex(t, h.capBnd) & parseHex(t, procStatus(t, os.Getpid(), "CapBnd"))
		if got := procStatus(t, pid, "CapBnd"); parseHex(t, got) != want {
			t.Errorf("CapBnd: %s, want %016x", got, want)
		}
	}
	if h.name != "haproxy.service" {
		if got := procStatus(t, pid, "Seccomp"); got != "2" {
			t.Errorf("Seccomp: %s, want 2 (filter)", got)
		}
	}
	mi, err := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, mp := range h.tmpfs {
		if !hasMount(string(mi), mp, "tmpfs") && !(mp == "/tmp" && hasPrivateTmp(string(mi), h.name)) {
			t.Errorf("no private tmpfs on %s in mountinfo:\n%s", mp, mi)
		}
	}
	for _, mp := range h.mounts {
		if mountOptions(string(mi), mp) == "" {
			t.Errorf("nothing mounted on %s in mountinfo:\n%s", mp, mi)
		}
	}
	for _, mp := range h.ro {
		if o := mountOptions(string(mi), mp); !strings.HasPrefix(o, "ro") {
			t.Errorf("%s mounted %q; want read-only", mp, o)
		}
	}
	for _, mp := range h.rw {
		if o := mountOptions(string(mi), mp); !strings.HasPrefix(o, "rw") {
			t.Errorf("%s mounted %q; want writable", mp, o)
		}
	}
	if h.ask != "" {
		if got := request(t, port, h.ask); !strings.HasPrefix(got, h.want) {
			t.Errorf("asked %q, answered %q; want %s…", h.ask, got, h.want)
		}
	} else {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Errorf("not listening: %v", err)
		} else {
			c.Close()
		}
	}
}

// hasMount reports whether mountinfo has a mount of type fstype on mp.
// hasPrivateTmp reports whether /tmp is the unit's own PrivateTmp=
// directory bound there (a tmpfs only where the host's /tmp is one).
func hasPrivateTmp(mountinfo, unit string) bool {
	for _, l := range strings.Split(mountinfo, "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == "/tmp" && strings.HasSuffix(f[3], "/tend-private-"+unit+"/tmp") {
			return true
		}
	}
	return false
}

func hasMount(mountinfo, mp, fstype string) bool {
	for _, l := range strings.Split(mountinfo, "\n") {
		f := strings.Fields(l)
		if len(f) < 10 || f[4] != mp {
			continue
		}
		for i, w := range f {
			if w == "-" && i+1 < len(f) && f[i+1] == fstype {
				return true
			}
		}
	}
	return false
}

// mountOptions is the per-mount options of the last (topmost) mount on
// mp in mountinfo, "" if none.
func mountOptions(mountinfo, mp string) string {
	opts := ""
	for _, l := range strings.Split(mountinfo, "\n") {
		if f := strings.Fields(l); len(f) > 5 && f[4] == mp {
			opts = f[5]
		}
	}
	return opts
}

// request sends req to 127.0.0.1:port and returns the first line answered.
func request(t *testing.T, port int, req string) string {
	t.Helper()
	// A simple service is running before it listens; nothing tells
	// when it does but the connection succeeding.
	var c net.Conn
	var err error
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err = net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 5*time.Second); err == nil || time.Now().After(end) {
			break
		}
	}
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	l, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(l)
}

func parseHex(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

package sandbox

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseCaps(t *testing.T) {
	for _, tc := range []struct {
		in   string
		set  uint64
		inv  bool
		fail bool
	}{
		{"CAP_CHOWN CAP_KILL", 1<<0 | 1<<5, false, false},
		{"~cap_sys_admin", 1 << 21, true, false},
		{"  ", 0, false, false},
		{"CAP_CHECKPOINT_RESTORE", 1 << 40, false, false},
		{"CAP_NOPE", 0, false, true},
	} {
		set, inv, err := ParseCaps(tc.in)
		if (err != nil) != tc.fail || set != tc.set || inv != tc.inv {
			t.Errorf("ParseCaps(%q) = %x, %v, %v; want %x, %v, fail %v", tc.in, set, inv, err, tc.set, tc.inv, tc.fail)
		}
	}
	if CapName(5) != "cap_kill" {
		t.Errorf("CapName(5) = %s", CapName(5))
	}
}

// TestGroups: every group resolves, with no unknown group inside, and
// the service set holds what any daemon needs.
func TestGroups(t *testing.T) {
	for g := range syscallGroups {
		calls, err := ExpandSyscalls(g)
		if err != nil || len(calls) == 0 {
			t.Errorf("%s: %d calls, %v", g, len(calls), err)
		}
	}
	svc, _ := ExpandSyscalls("@system-service")
	have := strings.Join(svc, " ") + " "
	for _, c := range []string{"read ", "execve ", "uname ", "socket ", "mmap ", "futex ", "clone "} {
		if !strings.Contains(" "+have, " "+c) {
			t.Errorf("@system-service lacks %s", c)
		}
	}
	if _, err := ExpandSyscalls("@nope"); err == nil {
		t.Error("unknown group accepted")
	}
}

// TestSeccompPrograms: every filter tend can ask for assembles, within
// the kernel's 4096-instruction limit.
func TestSeccompPrograms(t *testing.T) {
	allowed := uint64(unix.CLONE_NEWNS)
	c := &Config{
		SystemCallFilter:        &SyscallList{Allow: true, Calls: map[string]int{"read": 0, "uname": int(unix.EILSEQ)}},
		SystemCallErrorNumber:   int(unix.EACCES),
		SystemCallArchitectures: []string{"native"},
		RestrictAddressFamilies: &FamilyList{Allow: true, Families: []int{unix.AF_UNIX, unix.AF_INET}},
		RestrictNamespaces:      &allowed,
		RestrictRealtime:        true, RestrictSUIDSGID: true, LockPersonality: true, MemoryDenyWriteExecute: true,
		ProtectClock: true, ProtectKernelModules: true, ProtectKernelLogs: true, ProtectHostname: true, PrivateDevices: true,
	}
	all, _ := ExpandSyscalls("@known")
	for _, n := range all {
		c.SystemCallFilter.Calls[n] = 0
	}
	progs, err := Seccomp(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(progs) < 10 {
		t.Errorf("%d programs; want one per setting", len(progs))
	}
	for i, p := range progs {
		if len(p) == 0 || len(p) > 4096 {
			t.Errorf("program %d has %d instructions", i, len(p))
		}
	}
}

// TestMountOrder: new file systems and binds come first, shallowest
// first, then access changes by depth, then what is hidden; a read-only
// tmpfs is made read-only after the binds into it.
func TestMountOrder(t *testing.T) {
	c := &Config{
		ProtectSystem: "strict", ProtectHome: "yes", PrivateTmp: true,
		ReadWritePaths:      []string{"/var/lib/x"},
		TemporaryFileSystem: []TmpFS{{Path: "/srv", Options: "ro,mode=0700"}},
		BindPaths:           []Bind{{Src: "/etc", Dst: "/srv/etc", Recursive: true}},
	}
	p, err := Build(c, "", []string{"/var/lib/state"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range p.Mounts {
		got = append(got, m.String())
	}
	s := strings.Join(got, "\n")
	order := []string{"tmpfs /tmp", "tmpfs /srv", "bind /etc on /srv/etc", "ro /\n", "ro /srv", "rw /var/lib/x", "inaccessible /home"}
	at := 0
	for _, w := range order {
		i := strings.Index(s[at:], w)
		if i < 0 {
			t.Fatalf("%q missing or out of order in:\n%s", w, s)
		}
		at += i
	}
	if !strings.Contains(s, "rw /var/lib/state") {
		t.Errorf("the unit's state directory is not writable under strict:\n%s", s)
	}
	if p.Unshare != unix.CLONE_NEWNS {
		t.Errorf("unshare flags %x", p.Unshare)
	}
}

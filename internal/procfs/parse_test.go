package procfs

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"reflect"
	"testing"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Stat
		wantErr bool
	}{
		{name: "plain", in: "42 (sleep) S 1 42 42 0 -1 4194304 10 0 0 0 3 4 0 0 20 0 1 0 500 8192000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0\n",
			want: Stat{PID: 42, Comm: "sleep", State: 'S', PPID: 1, PGID: 42, SID: 42, TPGID: -1, Flags: 4194304, MinFlt: 10,
				UTime: 3, STime: 4, Priority: 20, Threads: 1, StartTime: 500, VSize: 8192000, RSS: 100, Processor: 1}},
		{name: "parentheses and spaces", in: "7 (a) b (c) R 1 7 7 34817 7 0 0 0 0 0 0 0 0 0 -2 -20 2 0 9 0 0",
			want: Stat{PID: 7, Comm: "a) b (c", State: 'R', PPID: 1, PGID: 7, SID: 7, TTY: 34817, TPGID: 7, Priority: -2, Nice: -20, Threads: 2, StartTime: 9}},
		{name: "newline in comm", in: "8 (x\ny) Z 3 3 3 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0",
			want: Stat{PID: 8, Comm: "x\ny", State: 'Z', PPID: 3, PGID: 3, SID: 3, TPGID: -1, Priority: 20, Threads: 1, StartTime: 1}},
		{name: "empty comm", in: "9 () S 0 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0",
			want: Stat{PID: 9, State: 'S', TPGID: -1, Priority: 20, Threads: 1, StartTime: 1}},
		{name: "no parentheses", in: "1 sleep S 1", wantErr: true},
		{name: "truncated", in: "1 (sleep) S 1 2 3", wantErr: true},
		{name: "bad number", in: "1 (s) S x 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0", wantErr: true},
		{name: "bad state", in: "1 (s) SS 0 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0", wantErr: true},
		{name: "bad pid", in: "x (s) S 0 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseStat error = %v; want error %v", err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("ParseStat = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	in := "Name:\tmy prog\nUmask:\t0027\nUid:\t1000\t0\t1000\t0\nGid:\t5\t6\t7\t8\nGroups:\t4 24 \nVmLck:\t      12 kB\n" +
		"Threads:\t3\nNSpid:\t77\t1\nSigIgn:\t0000000000001000\nCapEff:\t000001FFFFFFFFFF\nSeccomp:\t2\nUnknown:\tx y\n"
	got, err := ParseStatus([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Status{Name: "my prog", Umask: 0o27, UIDs: [4]int{1000, 0, 1000, 0}, GIDs: [4]int{5, 6, 7, 8}, Groups: []int{4, 24},
		VmLck: 12, Threads: 3, NSpid: []int{77, 1}, SigIgn: 0x1000, CapEff: 0x1ffffffffff, Seccomp: 2}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseStatus = %+v; want %+v", got, want)
	}
	ids, err := ParseStatusIDs([]byte(in + "VmRSS:\t 7 kB\nVmRSS:\t8 kB\nSigIgn:\tzz\n"))
	if err != nil || ids.UIDs != want.UIDs || ids.VmLck != 12 || ids.VmRSS != 7 || ids.Name != "" {
		t.Errorf("ParseStatusIDs = %+v, %v; want UIDs %v, VmLck 12, VmRSS 7 and nothing else", ids, err, want.UIDs)
	}
	for _, bad := range []string{"Uid:\t1 2 3\n", "Umask:\t9\n", "VmLck:\tlots kB\n", "Threads:\t-\n", "SigIgn:\tzz\n"} {
		if _, err := ParseStatus([]byte(bad)); err == nil {
			t.Errorf("ParseStatus(%q) succeeded; want an error", bad)
		}
	}
}

func TestParseCgroups(t *testing.T) {
	tests := []struct {
		in   string
		main string
		n    int
		err  bool
	}{
		{in: "0::/tend/web.service\n", main: "/tend/web.service", n: 1},
		{in: "12:pids:/a\n1:name=systemd:/b\n0::/c\n", main: "/c", n: 3},
		{in: "12:pids:/a\n1:name=systemd:/b\n", main: "/b", n: 2},
		{in: "4:memory:/m\n12:pids:/p\n", main: "/p", n: 2},
		{in: "0::/with:colon\n", main: "/with:colon", n: 1},
		{in: "", main: "", n: 0},
		{in: "nocolon\n", err: true},
		{in: "x::/a\n", err: true},
		{in: "1:/a\n", err: true},
		{in: "-1::/a\n", err: true},
	}
	for _, tt := range tests {
		lines, err := ParseCgroups([]byte(tt.in))
		if (err != nil) != tt.err {
			t.Errorf("ParseCgroups(%q) error = %v; want error %v", tt.in, err, tt.err)
			continue
		}
		if len(lines) != tt.n || MainCgroup(lines) != tt.main {
			t.Errorf("ParseCgroups(%q) = %d lines, main %q; want %d, %q", tt.in, len(lines), MainCgroup(lines), tt.n, tt.main)
		}
		if main, err := ParseMainCgroup([]byte(tt.in)); (err != nil) != tt.err || main != tt.main {
			t.Errorf("ParseMainCgroup(%q) = %q, %v; want %q, error %v", tt.in, main, err, tt.main, tt.err)
		}
	}
}

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a\x00b c\x00", []string{"a", "b c"}},
		{"nginx: worker process", []string{"nginx: worker process"}},
		{"x\x00\x00\x00", []string{"x"}},
		{"a\x00\x00b\x00", []string{"a", "", "b"}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := ParseCmdline([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseCmdline(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseSyscall(t *testing.T) {
	tests := []struct {
		in   string
		want Syscall
		err  bool
	}{
		{in: "running\n", want: Syscall{Running: true}},
		{in: "-1 0x7ffd 0x4000\n", want: Syscall{Number: -1, SP: 0x7ffd, PC: 0x4000}},
		{in: "7 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8", want: Syscall{Number: 7, Args: [6]uint64{1, 2, 3, 4, 5, 6}, SP: 7, PC: 8}},
		{in: "7 0x1", err: true},
		{in: "x", err: true},
		{in: "", err: true},
		{in: "0 0xzz 0 0 0 0 0 0 0", err: true},
	}
	for _, tt := range tests {
		got, err := ParseSyscall([]byte(tt.in))
		if (err != nil) != tt.err || err == nil && got != tt.want {
			t.Errorf("ParseSyscall(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParseSmallFiles(t *testing.T) {
	la, err := ParseLoadAvg([]byte("1.50 0.25 0.00 3/456 789\n"))
	if err != nil || la != (LoadAvg{1.5, 0.25, 0, 3, 456, 789}) {
		t.Errorf("ParseLoadAvg = %+v, %v", la, err)
	}
	for _, bad := range []string{"", "1 2 3 4 5", "a 1 1 1/1 1", "1 1 1 x/1 1"} {
		if _, err := ParseLoadAvg([]byte(bad)); err == nil {
			t.Errorf("ParseLoadAvg(%q) succeeded; want an error", bad)
		}
	}
	sm, err := ParseStatm([]byte("10 5 3 1 0 2 0\n"))
	if err != nil || sm != (Statm{Size: 10, Resident: 5, Shared: 3, Text: 1, Data: 2}) {
		t.Errorf("ParseStatm = %+v, %v", sm, err)
	}
	if _, err := ParseStatm([]byte("1 2")); err == nil {
		t.Error("ParseStatm(short) succeeded; want an error")
	}
	mi, err := ParseMemInfo([]byte("MemTotal:  100 kB\nHugePages_Total:   2\n"))
	if err != nil || mi["MemTotal"] != 100 || mi["HugePages_Total"] != 2 {
		t.Errorf("ParseMemInfo = %v, %v", mi, err)
	}
	if _, err := ParseMemInfo([]byte("MemTotal: lots kB\n")); err == nil {
		t.Error("ParseMemInfo(bad) succeeded; want an error")
	}
	ss, err := ParseSysStat([]byte("cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1 2 3 4\ncpu1 1 2 3 4\nbtime 99\nprocs_running 3\n"))
	if err != nil || ss.CPU != (CPUTimes{1, 2, 3, 4, 5, 6, 7, 8}) || ss.CPUs != 2 || ss.BootTime != 99 || ss.Running != 3 {
		t.Errorf("ParseSysStat = %+v, %v", ss, err)
	}
	if _, err := ParseSysStat([]byte("cpu 1 2\n")); err == nil {
		t.Error("ParseSysStat without btime succeeded; want an error")
	}
	lim, err := ParseLimits([]byte("Limit                     Soft Limit           Hard Limit           Units     \n" +
		"Max open files            1024                 unlimited            files     \nMax nice priority         0                    0                    \n"))
	if err != nil || len(lim) != 2 || lim[0] != (Limit{"Max open files", 1024, -1, "files"}) || lim[1].Units != "" {
		t.Errorf("ParseLimits = %+v, %v", lim, err)
	}
	if _, err := ParseLimits([]byte("h\nMax open files            x y\n")); err == nil {
		t.Error("ParseLimits(bad) succeeded; want an error")
	}
}

func TestParseLinkInode(t *testing.T) {
	tests := []struct {
		in   string
		kind string
		ino  uint64
		ok   bool
	}{
		{"socket:[123]", "socket", 123, true},
		{"pipe:[9]", "pipe", 9, true},
		{"/var/log/x:[1]", "/var/log/x", 1, true},
		{"anon_inode:[eventfd]", "", 0, false},
		{"/etc/passwd", "", 0, false},
		{"socket:[12", "", 0, false},
	}
	for _, tt := range tests {
		kind, ino, ok := ParseLinkInode(tt.in)
		if kind != tt.kind || ino != tt.ino || ok != tt.ok {
			t.Errorf("ParseLinkInode(%q) = %q, %d, %v; want %q, %d, %v", tt.in, kind, ino, ok, tt.kind, tt.ino, tt.ok)
		}
	}
}

func TestTTYNames(t *testing.T) {
	r := New("testdata/proc").NewReader()
	names := r.TTYNames()
	tests := []struct {
		dev  uint64
		want string
	}{
		{0, "?"},
		{136<<8 | 3, "pts/3"},
		{137<<8 | 1, "pts/257"},
		{4<<8 | 1, "tty1"},
		{4<<8 | 65, "ttyS1"},
		{5<<8 | 1, "console"},
		{188<<8 | 2, "ttyUSB2"},
		{200<<8 | 2, "200,2"},
	}
	for _, tt := range tests {
		if got := names.Name(tt.dev); got != tt.want {
			t.Errorf("Name(%d:%d) = %q; want %q", tt.dev>>8, tt.dev&0xff, got, tt.want)
		}
	}
}

func TestErrGoneMatchesNotExist(t *testing.T) {
	if !errors.Is(ErrGone, fs.ErrNotExist) {
		t.Fatal("ErrGone does not match fs.ErrNotExist")
	}
}

func BenchmarkParseStat(b *testing.B) {
	in := []byte("4242 (nginx: worker) S 1 4242 4242 0 -1 4194560 1000 0 2 0 130 45 0 0 20 0 4 0 50000 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n")
	for b.Loop() {
		if _, err := ParseStat(in); err != nil {
			b.Fatal(err)
		}
	}
}

// dirent64 builds one struct linux_dirent64 record for name.
func dirent64(name string) []byte {
	reclen := (19 + len(name) + 1 + 7) &^ 7
	b := make([]byte, reclen)
	binary.NativeEndian.PutUint16(b[16:], uint16(reclen))
	copy(b[19:], name)
	return b
}

func TestDirentNums(t *testing.T) {
	var buf []byte
	for _, name := range []string{".", "..", "0", "12", "self", "x1", "-3", "+4", "99999999999", "4194304"} {
		buf = append(buf, dirent64(name)...)
	}
	if got := direntNums(buf); !reflect.DeepEqual(got, []int{0, 12, 4194304}) {
		t.Errorf("direntNums = %v; want [0 12 4194304]", got)
	}
	// A record whose length runs past the buffer ends the list.
	bad := dirent64("7")
	binary.NativeEndian.PutUint16(bad[16:], 200)
	if got := direntNums(append(dirent64("5"), bad...)); !reflect.DeepEqual(got, []int{5}) {
		t.Errorf("direntNums with a truncated record = %v; want [5]", got)
	}
}

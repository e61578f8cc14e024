package unit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func BenchmarkParseFile(b *testing.B) {
	text := strings.Repeat("[Unit]\nDescription=x\nAfter=a.service b.service\n[Service]\nExecStart=/bin/echo \"a b\" c\nEnvironment=A=1 B=2\n", 20)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		ParseFile("bench", strings.NewReader(text))
	}
}

func BenchmarkLoadAllDebian(b *testing.B) {
	if _, err := os.Stat("/lib/systemd/system"); err != nil {
		b.Skip("no systemd units on this machine")
	}
	l := &Loader{Dirs: []string{"/lib/systemd/system"}, Env: testEnv()}
	for b.Loop() {
		l.LoadAll()
	}
}

func BenchmarkParseExecLine(b *testing.B) {
	for b.Loop() {
		if _, err := ParseExecLine(`-/usr/bin/daemon --config "/etc/my app/conf" -v \x41 ; /bin/true`); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadAllBringup loads the bring-up benchmark's 1000 units (one
// small service each, all wanted by default.target): the parse that
// comes before the first service's start.
func BenchmarkLoadAllBringup(b *testing.B) {
	dir := b.TempDir()
	wants := "[Unit]\n"
	for i := range 1000 {
		name := fmt.Sprintf("s%04d.service", i)
		text := fmt.Sprintf("[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart=%s/sv/s%04d/run\nRestart=always\nRestartSec=0\n", dir, i)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
		wants += "Wants=" + name + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "default.target"), []byte(wants), 0o644); err != nil {
		b.Fatal(err)
	}
	l := &Loader{Dirs: []string{dir}, Env: SystemEnv()}
	// CPU time (all threads) as well as wall time: on a shared machine
	// the wall time says more about the neighbours than about the parse.
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	for b.Loop() {
		if set, _ := l.LoadAll(); len(set.Units) < 1001 {
			b.Fatalf("loaded %d units", len(set.Units))
		}
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
}

// BenchmarkLoadInstance loads one Accept=yes instance from its template
// through a frozen, memoized loader on the system search path, as the
// daemon does per connection: a unique instance name each time, other
// units with drop-in and dependency directories alongside.
func BenchmarkLoadInstance(b *testing.B) {
	root := b.TempDir()
	etc := filepath.Join(root, "etc/systemd/system")
	for _, d := range []string{"", "getty@.service.d", "multi-user.target.wants", "sockets.target.wants", "ssh.service.d"} {
		if err := os.MkdirAll(filepath.Join(etc, d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	tmpl := "[Unit]\nDescription=echo %i\n[Service]\nExecStart=/bin/cat\nStandardInput=socket\n"
	if err := os.WriteFile(filepath.Join(etc, "echo@.service"), []byte(tmpl), 0o644); err != nil {
		b.Fatal(err)
	}
	l := (&Loader{Root: root, Dirs: SystemDirs(), Env: testEnv()}).Freeze().Memoize()
	i := 0
	for b.Loop() {
		i++
		u, err := l.Load(fmt.Sprintf("echo@%d-127.0.0.1:24011-127.0.0.1:%d.service", i, 30000+i%30000))
		if err != nil || u.Load != Loaded {
			b.Fatalf("load: %v, %v", err, u.Load)
		}
	}
}

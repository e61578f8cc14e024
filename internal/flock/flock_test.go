package flock

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestHolderIn(t *testing.T) {
	const locks = `1: POSIX  ADVISORY  WRITE 700 00:26:3198 0 EOF
2: FLOCK  ADVISORY  WRITE 1234 08:01:654321 0 EOF
2: -> FLOCK  ADVISORY  WRITE 1240 00:26:3198 0 EOF
3: OFDLCK ADVISORY  READ  -1 00:26:3198 0 EOF
4: FLOCK  ADVISORY  WRITE 18000 00:26:3198 0 EOF
5: FLOCK  ADVISORY  WRITE 99 fd:1a:7 0 EOF
garbage
6: FLOCK  ADVISORY  WRITE x 00:26:3199 0 EOF`
	tests := []struct {
		name         string
		major, minor uint32
		ino          uint64
		want         int
	}{
		{"holder after a waiter and other kinds", 0, 0x26, 3198, 18000},
		{"block device", 8, 1, 654321, 1234},
		{"hex device numbers", 0xfd, 0x1a, 7, 99},
		{"bad pid", 0, 0x26, 3199, 0},
		{"no lock", 0, 0x26, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := holderIn([]byte(locks), tt.major, tt.minor, tt.ino); got != tt.want {
				t.Errorf("holderIn(%d:%d:%d) = %d; want %d", tt.major, tt.minor, tt.ino, got, tt.want)
			}
		})
	}
}

func FuzzHolderIn(f *testing.F) {
	f.Add([]byte("1: FLOCK  ADVISORY  WRITE 1234 08:01:654321 0 EOF\n"), uint32(8), uint32(1), uint64(654321))
	f.Add([]byte("1: -> FLOCK ADVISORY WRITE 1 0:0:0\n"), uint32(0), uint32(0), uint64(0))
	f.Fuzz(func(t *testing.T, b []byte, major, minor uint32, ino uint64) {
		if pid := holderIn(b, major, minor, ino); pid < 0 {
			t.Fatalf("negative pid %d", pid)
		}
	})
}

// TestFile locks a file twice: the second open file description is
// refused and told the holder (this process), and the pid is written.
func TestFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	f, err := File(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := os.ReadFile(path)
	if got, want := strings.TrimSpace(string(b)), strconv.Itoa(os.Getpid()); got != want {
		t.Errorf("lock file says %q; want %q", got, want)
	}
	_, err = File(path)
	var held *HeldError
	if !errors.As(err, &held) || held.PID != os.Getpid() {
		t.Fatalf("second lock: %v; want held by pid %d", err, os.Getpid())
	}
	if b2, _ := os.ReadFile(path); string(b2) != string(b) {
		t.Errorf("the refused lock changed the file: %q", b2)
	}
	f.Close()
	g, err := File(path)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	g.Close()
}

func TestFileRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	os.WriteFile(target, []byte("keep\n"), 0o644)
	link := filepath.Join(dir, "lock")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if f, err := File(link); err == nil {
		f.Close()
		t.Fatal("locked through a symlink")
	}
	if b, _ := os.ReadFile(target); string(b) != "keep\n" {
		t.Errorf("symlink target changed: %q", b)
	}
}

func TestDir(t *testing.T) {
	dir := t.TempDir()
	f, err := Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = Dir(dir)
	var held *HeldError
	if !errors.As(err, &held) || held.PID != os.Getpid() {
		t.Fatalf("second lock: %v; want held by pid %d", err, os.Getpid())
	}
}

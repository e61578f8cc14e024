package supervise

import (
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParsePID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int // 0: an error
	}{
		{"123\n", 123},
		{"123", 123},
		{"  42  \n", 42},
		{"42\r\n", 42},
		{"77\nport 80\n", 77},
		{"", 0},
		{"\n", 0},
		{"0\n", 0},
		{"-5\n", 0},
		{"+5\n", 0},
		{"12 34\n", 0},
		{"0x10\n", 0},
		{"abc\n", 0},
		{"99999999999999999999\n", 0},
		{"2147483648\n", 0},
		{"2147483647\n", 2147483647},
		{strings.Repeat("1", maxPIDFileSize+1), 0},
	} {
		got, err := parsePID([]byte(tc.in))
		if (err != nil) != (tc.want == 0) || got != tc.want {
			t.Errorf("parsePID(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParsePID(f *testing.F) {
	for _, s := range []string{"1\n", "  7 \n", "", "-1", "4194304\nx"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pid, err := parsePID(b)
		if err == nil && pid <= 0 {
			t.Fatalf("parsePID(%q) = %d without an error", b, pid)
		}
		if err != nil && pid != 0 {
			t.Fatalf("parsePID(%q) = %d with error %v", b, pid, err)
		}
	})
}

// TestReadPIDFile walks the symbolic link chains readPIDFile meets: what
// it opens, and which chains it calls unsafe (systemd's CHASE_SAFE: no
// step from an object owned by a user other than root to one owned by
// someone else).
func TestReadPIDFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to own files as nobody")
	}
	base := t.TempDir()
	p := func(s string) string { return base + "/" + s } // not Join: it would clean ".." away
	mkdir := func(name string, uid int, mode os.FileMode) {
		if err := os.Mkdir(p(name), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p(name), uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	file := func(name, text string, uid int) {
		if err := os.WriteFile(p(name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p(name), uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	link := func(name, target string, uid int) {
		if err := os.Symlink(target, p(name)); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(p(name), uid, uid); err != nil {
			t.Fatal(err)
		}
	}
	mkdir("root", 0, 0o700)
	mkdir("nb", nobody, 0o755)
	file("root/pid", "100\n", 0)
	file("nb/pid", "200\n", nobody)
	file("nb/rootpid", "300\n", 0) // root's file in nobody's directory
	link("root/link", "pid", 0)
	link("root/abs", p("root/pid"), 0)
	link("nb/tonb", "pid", nobody)
	link("nb/toroot", p("root/pid"), nobody)
	link("nb/torootrel", "../root/pid", nobody)
	link("root/tonb", p("nb/pid"), 0)
	link("nb/loop", "loop", nobody)
	link("nb/dangling", "nothing", nobody)
	if err := unix.Mkfifo(p("nb/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	link("root/fifo", p("nb/fifo"), 0)

	for _, tc := range []struct {
		path  string
		pid   int // 0: an error
		owner uint32
		safe  bool
	}{
		{"root/pid", 100, 0, true},
		{"root/link", 100, 0, true},
		{"root/abs", 100, 0, true},
		{"root/./pid", 100, 0, true},
		{"nb/../root/pid", 100, 0, false}, // nobody's directory, then root's: unsafe
		{"nb/pid", 200, nobody, true},
		{"nb/tonb", 200, nobody, true},
		{"nb/rootpid", 300, 0, false},
		{"nb/toroot", 100, 0, false},
		{"nb/torootrel", 100, 0, false},
		{"root/tonb", 200, nobody, true}, // root may point anywhere
		{"nb/loop", 0, 0, false},
		{"nb/dangling", 0, 0, false},
		{"nb/fifo", 0, 0, false},
		{"root/fifo", 0, 0, false},
		{"nb", 0, 0, false},
		{"nb/pid/", 0, 0, false},
		{"missing", 0, 0, false},
	} {
		got, err := readPIDFile(p(tc.path))
		if tc.pid == 0 {
			if err == nil {
				t.Errorf("readPIDFile(%s) = %+v; want an error", tc.path, got)
			}
			continue
		}
		want := pidFile{pid: tc.pid, owner: tc.owner, safe: tc.safe}
		if err != nil || got != want {
			t.Errorf("readPIDFile(%s) = %+v, %v; want %+v", tc.path, got, err, want)
		}
	}
	if _, err := readPIDFile("relative/pid"); err == nil {
		t.Error("readPIDFile of a relative path succeeded")
	}
	if _, err := readPIDFile(p("nb/loop")); !errors.Is(err, unix.ELOOP) {
		t.Errorf("readPIDFile of a link loop: %v; want ELOOP", err)
	}
}

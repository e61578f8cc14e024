package unit

import (
	"os"
	"strings"
	"testing"
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

package logroute

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/syslogconf"
)

// terminals writes to logged-in users' terminals, found in utmp, for "*"
// (everyone, with a banner as wall(1) has) and user-name rules. It runs
// only when such a rule selects a message, which on a sane system is
// rare (emergencies), so utmp is read each time rather than watched.
type terminals struct {
	utmp, dev string
}

// utmp record layout (glibc, every 64-bit and 32-bit Linux ABI with
// 32-bit time fields in utmp): ut_type at 0, ut_line at 8 (32 bytes),
// ut_user at 44 (32 bytes); 384 bytes each.
const (
	utmpSize    = 384
	utmpLineOff = 8
	utmpUserOff = 44
	utmpNameLen = 32
	userProcess = 7
	defaultUtmp = "/run/utmp"
	defaultDev  = "/dev"
)

// session is one logged-in user's terminal.
type session struct{ user, line string }

func (t *terminals) sessions() []session {
	path := t.utmp
	if path == "" {
		path = defaultUtmp
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []session
	for ; len(b) >= utmpSize; b = b[utmpSize:] {
		if int16(binary.LittleEndian.Uint16(b)) != userProcess {
			continue
		}
		line := cstr(b[utmpLineOff : utmpLineOff+utmpNameLen])
		user := cstr(b[utmpUserOff : utmpUserOff+utmpNameLen])
		if line != "" && user != "" {
			out = append(out, session{user, line})
		}
	}
	return out
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// write sends line to the terminals the rule names.
func (t *terminals) write(rule *syslogconf.Rule, host string, at time.Time, line []byte) {
	msg := append(bytes.TrimRight(line, "\n"), '\r', '\n')
	if rule.Kind == syslogconf.Wall {
		banner := "\r\n\aBroadcast message from syslog@" + host + " at " + at.Format("Mon Jan _2 15:04:05 2006") + " ...\r\n"
		msg = append([]byte(banner), msg...)
	}
	dev := t.dev
	if dev == "" {
		dev = defaultDev
	}
	for _, s := range t.sessions() {
		if rule.Kind == syslogconf.Users && !slices.Contains(rule.Users, s.user) {
			continue
		}
		// A line is a name under /dev, never a path out of it.
		if filepath.Base(s.line) != s.line && !isPts(s.line) {
			continue
		}
		fd, err := unix.Open(filepath.Join(dev, s.line), unix.O_WRONLY|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_APPEND, 0)
		if err != nil {
			continue
		}
		_, _ = unix.Write(fd, msg)
		unix.Close(fd)
	}
}

// isPts accepts "pts/N".
func isPts(line string) bool {
	dir, name := filepath.Split(line)
	return dir == "pts/" && name != "" && name != ".." && name != "."
}

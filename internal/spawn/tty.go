package spawn

import (
	"errors"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/nowait"
	"github.com/tendproject/tend/internal/unit"
)

// ttyInstr tells the helper to give the process a terminal
// (StandardInput=tty, tty-force, tty-fail) as its controlling terminal.
type ttyInstr struct {
	Path    string
	Mode    string // tty, tty-force, tty-fail
	Reset   bool   // TTYReset=
	VHangup bool   // TTYVHangup=
	// Out and Err put the terminal on stdout and stderr too
	// (StandardOutput=tty, StandardError=tty or inherited).
	Out, Err bool
}

// TTYPath is the terminal of StandardInput=/StandardOutput=tty:
// TTYPath=, else /dev/console.
func TTYPath(ec *unit.ExecContext) string {
	if ec.TTYPath != "" {
		return ec.TTYPath
	}
	return "/dev/console"
}

func resolveTTY(ec *unit.ExecContext) *ttyInstr {
	if !strings.HasPrefix(ec.StandardInput, "tty") {
		return nil
	}
	// An unset StandardOutput= means inherit with a terminal on stdin,
	// as systemd.exec(5) says.
	out := ec.StandardOutput == "tty" || ec.StandardOutput == "inherit" || ec.StandardOutput == ""
	err := ec.StandardError == "tty" || (out && (ec.StandardError == "inherit" || ec.StandardError == ""))
	return &ttyInstr{Path: TTYPath(ec), Mode: ec.StandardInput, Reset: ec.ProcSettings().TTYReset,
		VHangup: ec.ProcSettings().TTYVHangup, Out: out, Err: err}
}

// acquireTTY opens t.Path, hangs up and resets it if asked, makes it the
// controlling terminal of the helper's new session and puts it on fd 0
// (and 1, 2). "tty" waits for a terminal another session holds, by
// watching it be closed; "tty-fail" fails; "tty-force" takes it. Before
// it waits, it calls release: tend waits for the helper's report on its
// manager loop, which must not wait as long as a login holds the
// terminal (systemd's child waits, not the manager).
func acquireTTY(t *ttyInstr, release func()) error {
	if t.VHangup {
		if fd, err := unix.Open(t.Path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0); err == nil {
			_ = unix.IoctlSetInt(fd, unix.TIOCVHANGUP, 0)
			unix.Close(fd)
		}
	}
	fd, err := nowait.Open(t.Path, unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if t.Reset {
		resetTerminal(fd)
	}
	force := 0
	if t.Mode == "tty-force" {
		force = 1
	}
	// "tty" watches for the terminal's closes before each try, so that
	// the holder letting it go between a refused try and the wait is not
	// missed (the wait would last until the next close, maybe for ever).
	watch := -1
	if t.Mode == "tty" {
		if watch, err = watchCloses(t.Path); err != nil {
			return err
		}
		defer unix.Close(watch)
	}
	for {
		err = unix.IoctlSetInt(fd, unix.TIOCSCTTY, force)
		if err == nil || t.Mode != "tty" || !errors.Is(err, syscall.EPERM) {
			break
		}
		release()
		var buf [256]byte
		if _, werr := unix.Read(watch, buf[:]); werr != nil {
			return werr
		}
	}
	if err != nil {
		return &os.PathError{Op: "acquire terminal", Path: t.Path, Err: err}
	}
	for target, want := range []bool{true, t.Out, t.Err} {
		if want {
			if err := unix.Dup2(fd, target); err != nil {
				return err
			}
		}
	}
	return nil
}

// watchCloses returns an inotify descriptor that becomes readable when
// some process closes path (the session holding the terminal may be
// letting it go).
func watchCloses(path string) (int, error) {
	in, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return -1, err
	}
	if _, err := unix.InotifyAddWatch(in, path, unix.IN_CLOSE); err != nil {
		unix.Close(in)
		return -1, err
	}
	return in, nil
}

// resetTerminal puts the terminal back into a sane cooked mode and
// resets the display (TTYReset=); failures leave it as it was.
func resetTerminal(fd int) {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err == nil {
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.IUCLC
		t.Iflag |= unix.ICRNL | unix.IMAXBEL | unix.IUTF8
		t.Oflag |= unix.ONLCR | unix.OPOST
		t.Cflag |= unix.CREAD
		t.Lflag = unix.ISIG | unix.ICANON | unix.IEXTEN | unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHOCTL | unix.ECHOKE
		_ = unix.IoctlSetTermios(fd, unix.TCSETSF, t)
	}
	_, _ = unix.Write(fd, []byte("\033c"))
}

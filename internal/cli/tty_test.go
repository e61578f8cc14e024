package cli

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY returns a pseudo terminal's controlling and terminal ends.
func openPTY(t *testing.T) (ptm, pts *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo terminals here: %v", err)
	}
	fd := int(ptm.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ptm, pts
}

// TestColorOnTerminal checks that the state bullet is colored on a
// terminal and plain in a pipe.
func TestColorOnTerminal(t *testing.T) {
	sock := serveFake(t, ctlFake())
	ptm, pts := openPTY(t)
	defer ptm.Close()
	var screen bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(&screen, ptm) // ends with EIO once the terminal end closes
	}()
	var errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: pts, Stderr: &errb, Getenv: func(string) string { return "" }}
	code := Run(env, []string{"status", "web", "--socket", sock})
	pts.Close()
	<-done
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(screen.String(), ansiGreen+"●"+ansiReset+" web.service") {
		t.Errorf("terminal output lacks the green bullet: %q", screen.String())
	}
	_, out, _ := runCLI(sock, "status", "web")
	if strings.Contains(out, "\x1b[") {
		t.Errorf("pipe output has escape sequences: %q", out)
	}
}

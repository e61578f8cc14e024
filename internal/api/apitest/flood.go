package apitest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Flood is what an unprivileged attacker does to a control socket: it
// raises its descriptor limit as far as it may, opens connections to the
// unix socket at path until it runs out of descriptors (or a connection
// waits longer than wait in the listener's backlog), and keeps them all,
// sending nothing. It returns how many it opened.
func Flood(path string, wait time.Duration) (int, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &rl)
	}
	tv := unix.NsecToTimeval(wait.Nanoseconds())
	n := 0
	for {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("socket: %w", err)
		}
		// A blocking connect waits for room in the backlog at most this
		// long (SO_SNDTIMEO bounds it, then EAGAIN).
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv); err != nil {
			return n, fmt.Errorf("SO_SNDTIMEO: %w", err)
		}
		for {
			err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
			if err != unix.EINTR {
				break
			}
		}
		switch {
		case err == nil, errors.Is(err, unix.EISCONN):
			n++
		case errors.Is(err, unix.EAGAIN):
			unix.Close(fd)
			return n, nil
		default:
			unix.Close(fd)
			return n, fmt.Errorf("connect %s after %d connections: %w", path, n, err)
		}
	}
}

// FloodMain is the body of a flooding helper process: Flood, print the
// count on stdout, then hold every connection until stdin closes.
func FloodMain(path string) int {
	n, err := Flood(path, time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(n)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// StartFlooder runs bin, a test binary whose TestMain calls FloodMain when
// env names a socket, as uid and gid 65534 against the socket at sock. It
// returns once the flooder holds its connections, with their number; the
// flooder lets go when end is called (at the latest by Cleanup).
func StartFlooder(t testing.TB, bin, env, sock string) (n int, end func()) {
	t.Helper()
	const nobody = 65534
	cmd := exec.Command(bin)
	cmd.Env = []string{env + "=" + sock}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	end = func() { once.Do(func() { stdin.Close(); cmd.Wait() }) }
	t.Cleanup(end)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("flood helper: %v\n%s", err, stderr.Bytes())
	}
	n, err = strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("flood helper said %q", line)
	}
	return n, end
}

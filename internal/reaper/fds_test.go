package reaper

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestFDsNamesPidfds(t *testing.T) {
	h := newHarness(t)
	skipWithoutPidfds(t, h)
	got := make(chan Exit, 1)
	child, err := h.r.Start(fork(true, "/bin/sleep", "1000"), func(e Exit) { got <- e })
	if err != nil {
		t.Fatal(err)
	}
	// A process that is not our child: sh's own sleep.
	_, out, shExit := h.startSh(t, `sleep 1000 >/dev/null & echo $!; wait`)
	foreign := readPID(t, out)
	if err := h.r.Watch(foreign, func(Exit) {}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // role → what the descriptor links to
		"reaper: child pidfds (epoll)":                  "eventpoll",
		"reaper: pidfd of child " + strconv.Itoa(child): "pidfd",
		"reaper: pidfd of pid " + strconv.Itoa(foreign): "pidfd",
	}
	fds := h.r.FDs()
	for fd, role := range fds {
		link, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		if w, ok := want[role]; ok && strings.Contains(link, w) {
			delete(want, role)
		}
	}
	if len(want) > 0 {
		t.Errorf("FDs() = %v; lacks %v", fds, want)
	}
	unix.Kill(child, unix.SIGKILL)
	unix.Kill(foreign, unix.SIGKILL)
	await(t, got, "sleep")
	await(t, shExit, "sh")
}

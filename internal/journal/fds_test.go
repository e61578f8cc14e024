package journal

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// link is what /proc/<pid>/fd/<fd> points to.
func link(t *testing.T, pid, fd int) string {
	t.Helper()
	s, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/fd/" + strconv.Itoa(fd))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fdWith returns the descriptor with the given role.
func fdWith(t *testing.T, fds map[int]string, role string) int {
	t.Helper()
	for fd, r := range fds {
		if r == role {
			return fd
		}
	}
	t.Fatalf("no descriptor %q in %v", role, fds)
	return -1
}

func TestFDsNamePipesAndSegments(t *testing.T) {
	j := openTest(t, nil)
	self := os.Getpid()
	if got := link(t, self, fdWith(t, j.FDs(), "journal lock "+j.Dir()+"/.lock")); got != j.Dir()+"/.lock" {
		t.Errorf("lock descriptor is %s", got)
	}

	out, err := j.Pipe(Source{Unit: "web.service", Stream: StreamStdout})
	if err != nil {
		t.Fatal(err)
	}
	errp, err := j.Pipe(Source{Unit: "web.service", Stream: StreamStderr})
	if err != nil {
		t.Fatal(err)
	}
	// The child says it is running, then holds both pipes until its stdin
	// closes.
	cmd := exec.Command("/bin/sh", "-c", "echo up; read x")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out.W, errp.W
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out.SetPID(cmd.Process.Pid)
	errp.SetPID(cmd.Process.Pid)
	out.W.Close()
	errp.W.Close()
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	// Its first line stored means its segment is open too.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errUp := errors.New("up")
	if err := j.Follow(ctx, Query{Units: []string{"web.service"}}, func(Entry) error { return errUp }); !errors.Is(err, errUp) {
		t.Fatalf("waiting for the child's first line: %v", err)
	}

	fds := j.FDs()
	child := cmd.Process.Pid
	for stream, want := range map[int]string{1: "journal: web.service stdout", 2: "journal: web.service stderr"} {
		if got, ours := link(t, child, stream), link(t, self, fdWith(t, fds, want)); got != ours {
			t.Errorf("child's fd %d is %s, but %q is %s", stream, got, want, ours)
		}
	}
	if seg := link(t, self, fdWith(t, fds, "journal segment web.service")); !strings.HasSuffix(seg, ".seg") {
		t.Errorf("segment descriptor is %s", seg)
	}

	// Once the child is gone the pipes are closed and no longer listed.
	stdin.Close()
	cmd.Wait()
	<-out.Done()
	<-errp.Done()
	for fd, role := range j.FDs() {
		if strings.HasPrefix(role, "journal: ") {
			t.Errorf("fd %d still listed as %q after the pipe closed", fd, role)
		}
	}
	j.Close()
	if fds := j.FDs(); len(fds) != 0 {
		t.Errorf("closed journal lists %v", fds)
	}
}

// TestFDsWhilePipesComeAndGo runs under -race: FDs reads the pipe set the
// ingest loop changes.
func TestFDsWhilePipesComeAndGo(t *testing.T) {
	j := openTest(t, nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				j.FDs()
			}
		}
	}()
	for i := range 20 {
		runChild(t, j, Source{Unit: "u" + strconv.Itoa(i%3) + ".service"}, "echo line")
	}
	close(stop)
	wg.Wait()
}

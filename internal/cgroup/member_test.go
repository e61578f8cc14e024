package cgroup

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestContains checks the membership query the supervisor trusts before
// it adopts or signals a pid: a unit's processes (also one forked twice)
// are in, tend, init, another unit's and an unrelated process are not.
func TestContains(t *testing.T) {
	for _, mode := range []string{ModeV2, ModeV1, ModeNone} {
		t.Run(mode, func(t *testing.T) {
			m := newManager(t, mode)
			r := startReaper(t, m)
			g, err := m.Group("in.service")
			if err != nil {
				t.Fatal(err)
			}
			other, err := m.Group("other.service")
			if err != nil {
				t.Fatal(err)
			}
			sh, gc := startTree(t, r, g)
			osh, ogc := startTree(t, r, other)

			stranger := exec.Command("/bin/sleep", "30")
			if err := stranger.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { stranger.Process.Kill(); stranger.Wait() })

			for _, c := range []struct {
				what string
				pid  int
				want bool
			}{
				{"the unit's shell", sh, true},
				{"its double-forked child", gc, true},
				{"another unit's shell", osh, false},
				{"another unit's child", ogc, false},
				{"an unrelated process", stranger.Process.Pid, false},
				{"tend itself", os.Getpid(), false},
				{"init", 1, false},
				{"pid 0", 0, false},
				{"a negative pid", -1, false},
			} {
				if got := g.Contains(c.pid); got != c.want {
					t.Errorf("Contains(%s %d) = %v; want %v", c.what, c.pid, got, c.want)
				}
			}
			if err := g.Kill(unix.SIGKILL); err != nil {
				t.Fatal(err)
			}
			waitEmpty(t, g)
			if g.Contains(gc) {
				t.Errorf("Contains(%d) after the group was killed = true", gc)
			}
			if err := other.Kill(unix.SIGKILL); err != nil {
				t.Fatal(err)
			}
			waitEmpty(t, other)
		})
	}
}

func waitEmpty(t *testing.T, g *Group) {
	t.Helper()
	select {
	case <-g.Empty():
	case <-time.After(hangGuard):
		t.Fatalf("group %s never emptied", g.Path())
	}
}

package cgroup

import (
	"os"
	"testing"
)

// RemoveLater: an empty group is forgotten at once and its directories
// go off the caller's thread, by Close at the latest; a group made again
// under a queued name keeps its directory; a populated group stays.
func TestRemoveLater(t *testing.T) {
	for _, mode := range []string{ModeV2, ModeV1} {
		t.Run(mode, func(t *testing.T) {
			m := newManager(t, mode)
			gone, err := m.Group("gone@1.service")
			if err != nil {
				t.Fatal(err)
			}
			again, err := m.TrackingGroup("again@1.service")
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range []*Group{gone, again} {
				if err := g.RemoveLater(); err != nil {
					t.Fatal(err)
				}
			}
			back, err := m.TrackingGroup("again@1.service")
			if err != nil {
				t.Fatal(err)
			}
			if back == again {
				t.Fatal("TrackingGroup returned the removed group")
			}
			r := startReaper(t, m)
			sh, gc := startTree(t, r, back)
			if err := back.RemoveLater(); err == nil {
				t.Error("RemoveLater of a populated group succeeded")
			}
			m.waitRemovals()
			if _, err := os.Stat(gone.dir); !os.IsNotExist(err) {
				t.Errorf("%s still there after the removals: %v", gone.dir, err)
			}
			if _, err := os.Stat(back.dir); err != nil {
				t.Errorf("the group made again lost its directory: %v", err)
			}
			if !back.Contains(sh) || !back.Contains(gc) {
				t.Errorf("the group made again does not hold its processes %d, %d", sh, gc)
			}
			if err := back.Kill(9); err != nil {
				t.Fatal(err)
			}
			<-back.Empty()
			if err := back.Remove(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Prune right after RemoveLater waits for the remover: the base goes too.
func TestPruneAfterRemoveLater(t *testing.T) {
	m := newManager(t, ModeV2)
	for _, name := range []string{"a@1.service", "a@2.service", "a@3.service"} {
		g, err := m.TrackingGroup(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.RemoveLater(); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Prune(); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if _, err := os.Stat(m.base); !os.IsNotExist(err) {
		t.Errorf("base %s still there after Prune: %v", m.base, err)
	}
}

package supervise

import (
	"testing"

	"github.com/tendproject/tend/internal/unit"
)

// formatCounter counts how often it is formatted.
type formatCounter struct{ n *int }

func (c formatCounter) String() string { *c.n++; return "x" }

// TestEventFormattedWhenFlushed: tend's own messages are formatted when
// the event that said them is done, not when said, so that the message
// of a process's exit (its status's text) comes after the restart's
// fork; a message said nowhere (debug, tend not at debug level) is not
// formatted at all.
func TestEventFormattedWhenFlushed(t *testing.T) {
	m, u, _ := newTableManager(t, tableUnit(unit.TypeSimple, unit.RestartAlways, 0))
	var said, unsaid int
	m.event(u.rt, prioNotice, "%s: %v", u.name, formatCounter{&said})
	m.event(u.rt, prioDebug, "%s: %v", u.name, formatCounter{&unsaid})
	if said != 0 || unsaid != 0 {
		t.Fatalf("formatted %d and %d times when said; want 0 until the event is done", said, unsaid)
	}
	m.flushEvents()
	if said != 1 || unsaid != 0 {
		t.Errorf("formatted %d and %d times once flushed; want 1 (notice) and 0 (debug, said nowhere)", said, unsaid)
	}
}

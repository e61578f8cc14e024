package journal

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Instances sharing their template's stream: one directory for all of
// them, no segment of their own, and queries by instance, by template,
// by glob and by _SYSTEMD_UNIT still see each instance's entries under
// its own name, live and read back from disk.
func TestSharedStream(t *testing.T) {
	j := openTest(t, nil)
	const tmpl = "echo@.service"
	a, b := "echo@1-127.0.0.1:7-127.0.0.1:4001.service", "echo@2-127.0.0.1:7-127.0.0.1:4002.service"
	old := "echo@0-127.0.0.1:7-127.0.0.1:4000.service" // written before sharing: a directory of its own
	add := func(unit, msg string, o Origin) {
		t.Helper()
		if err := j.Append(Entry{Unit: unit, Message: []byte(msg), Origin: o}); err != nil {
			t.Fatal(err)
		}
	}
	add(old, "old", Origin{})
	j.Share(a, tmpl)
	j.Share(b, tmpl)
	add(a, "a1", Origin{})
	add(b, "b1", Origin{Hostname: "h", Address: "10.0.0.1"})
	add("other.service", "x", Origin{})
	add(a, "a2", Origin{})
	j.Release(a)
	j.Release(b)

	for _, u := range []string{a, b} {
		if _, err := os.Stat(filepath.Join(j.Dir(), escapeUnit(u))); !os.IsNotExist(err) {
			t.Errorf("%s has a directory of its own (%v); want it in %s's", u, err, tmpl)
		}
	}
	if open := openUnder(t, filepath.Join(j.Dir(), escapeUnit(tmpl))); len(open) != 1 {
		t.Errorf("template stream: %d segments open for writing; want 1 (it stays open after Release)", len(open))
	}

	r, err := OpenReadOnly(j.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, st := range []struct {
		name string
		q    interface {
			Query(ctx context.Context, q Query, fn func(Entry) error) error
		}
	}{{"live", j}, {"read back", r}} {
		for _, c := range []struct {
			q    Query
			want []string
		}{
			{Query{Units: []string{a}}, []string{"a1", "a2"}},
			{Query{Units: []string{b}}, []string{"b1"}},
			{Query{Units: []string{tmpl}}, []string{"old", "a1", "b1", "a2"}},
			{Query{Units: []string{"echo@*"}}, []string{"old", "a1", "b1", "a2"}},
			{Query{Units: []string{"other"}}, []string{"x"}},
			{Query{Matches: [][]string{{"_SYSTEMD_UNIT=" + b}}}, []string{"b1"}},
			{Query{Units: []string{old}}, []string{"old"}},
			{Query{}, []string{"old", "a1", "b1", "x", "a2"}},
		} {
			es := collect(t, st.q, c.q)
			if got := messages(es); !slices.Equal(got, c.want) {
				t.Errorf("%s: %+v: got %q; want %q", st.name, c.q, got, c.want)
			}
			for _, e := range es {
				want := map[string]string{"old": old, "a1": a, "a2": a, "b1": b, "x": "other.service"}[string(e.Message)]
				if e.Unit != want {
					t.Errorf("%s: %q: unit %q; want %q", st.name, e.Message, e.Unit, want)
				}
				if string(e.Message) == "b1" && (e.Origin.Hostname != "h" || e.Origin.Address != "10.0.0.1") {
					t.Errorf("%s: b1: origin %+v; want its host and address kept", st.name, e.Origin)
				}
			}
		}
	}

	// After Release, an entry of the instance is its own again.
	add(a, "late", Origin{})
	if got := messages(collect(t, j, Query{Units: []string{a}})); !slices.Equal(got, []string{"a1", "a2", "late"}) {
		t.Errorf("after release: got %q", got)
	}
}

func TestUnitPattern(t *testing.T) {
	for _, c := range []struct {
		p, name string
		want    bool
	}{
		{"echo@.service", "echo@1.service", true},
		{"echo@.service", "echo@.service", true},
		{"echo@.service", "echox@1.service", false},
		{"echo@.service", "echo@1.socket", false},
		{"echo@1.service", "echo@.service", false},
		{"echo", "echo.service", true},
		{"echo@*", "echo@1.service", true},
		{"web.service", "web.service", true},
	} {
		if got := unitPattern(c.p, c.name); got != c.want {
			t.Errorf("unitPattern(%q, %q) = %v; want %v", c.p, c.name, got, c.want)
		}
	}
}

// An instance released while its output pipe is still being read keeps
// its place in the shared stream until the pipe's end: its last lines
// neither open a directory of their own nor lose their unit.
func TestSharedStreamReleaseWaitsForPipe(t *testing.T) {
	j := openTest(t, nil)
	const unit, tmpl = "echo@1-127.0.0.1:7-127.0.0.1:4001.service", "echo@.service"
	j.Share(unit, tmpl)
	p, err := j.Pipe(Source{Unit: unit, Identifier: "echo", Priority: PriInfo, Facility: 3})
	if err != nil {
		t.Fatal(err)
	}
	p.SetPID(os.Getpid())
	j.Release(unit) // the instance ended; its pipe has not been read to its end
	if _, err := p.W.WriteString("first\nlast\n"); err != nil {
		t.Fatal(err)
	}
	p.W.Close()
	<-p.Done()
	if _, err := os.Stat(filepath.Join(j.Dir(), escapeUnit(unit))); !os.IsNotExist(err) {
		t.Errorf("%s has a directory of its own (%v); want its lines in %s's", unit, err, tmpl)
	}
	if got := messages(collect(t, j, Query{Units: []string{unit}})); !slices.Equal(got, []string{"first", "last"}) {
		t.Errorf("got %q; want first, last", got)
	}
	// Forgotten once the pipe ended: a later entry is the unit's own.
	if err := j.Append(Entry{Unit: unit, Message: []byte("late")}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(j.Dir(), escapeUnit(unit))); err != nil {
		t.Errorf("entry after the pipe's end: %v; want a directory of its own", err)
	}
}

// TestSharedStreamRuns: a pipe read's lines of a unit stored in a shared
// stream are one record each with the unit's name (batch frames carry
// none), and come back under that unit.
func TestSharedStreamRuns(t *testing.T) {
	j := openTest(t, nil)
	const unit = "echo@1-127.0.0.1:7-127.0.0.1:4001.service"
	j.Share(unit, "echo@.service")
	commitLines(t, j, unit, []string{"one", "two", "three"}, true)
	got := collect(t, j, Query{Units: []string{unit}})
	if fmt.Sprint(messages(got)) != "[one two three]" {
		t.Fatalf("got %q", messages(got))
	}
	for _, e := range got {
		if e.Unit != unit {
			t.Errorf("%q: unit %q; want %q", e.Message, e.Unit, unit)
		}
	}
}

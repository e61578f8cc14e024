package supervise

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/tendproject/tend/internal/unit"
	"golang.org/x/sys/unix"
)

func TestStateFileRoundTrip(t *testing.T) {
	in := SavedState{Instance: "/run/tend", Units: []SavedUnit{{
		Name: "a.service", Kind: "service", State: "running", Since: time.Unix(1700000000, 0).UTC(),
		Engine: []byte(`{"main_pid":42,"n_restarts":3}`), FDs: map[string]int{"listen": 7},
	}}}
	data, err := EncodeState(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeState(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Units) != 1 || out.Units[0].Name != "a.service" || string(out.Units[0].Engine) != `{"main_pid":42,"n_restarts":3}` ||
		!out.Units[0].Since.Equal(in.Units[0].Since) || out.Instance != "/run/tend" {
		t.Fatalf("round trip: got %+v", out)
	}
	if got := out.KeepFDs(); len(got) != 1 || got[0] != 7 {
		t.Fatalf("KeepFDs = %v; want [7]", got)
	}
}

func TestDecodeStateRefusesBadFiles(t *testing.T) {
	good, _ := EncodeState(SavedState{Instance: "x", Units: []SavedUnit{{Name: "a.service", Kind: "service", State: "running"}}})
	head, body, _ := bytes.Cut(good, []byte("\n"))
	flip := bytes.Clone(good)
	flip[len(flip)-3] ^= 1
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrStateCorrupt},
		{"truncated", good[:len(good)-5], ErrStateCorrupt},
		{"header only", head, ErrStateCorrupt},
		{"flipped bit", flip, ErrStateCorrupt},
		{"extra bytes", append(bytes.Clone(good), '\n'), ErrStateCorrupt},
		{"not a state file", []byte("hello\nworld"), ErrStateCorrupt},
		{"newer version", append([]byte(string(bytes.Replace(head, []byte(" 1 "), []byte(" 2 "), 1))+"\n"), body...), ErrStateVersion},
		{"older version", append([]byte(string(bytes.Replace(head, []byte(" 1 "), []byte(" 0 "), 1))+"\n"), body...), ErrStateVersion},
		{"version word", append([]byte(string(bytes.Replace(head, []byte(" 1 "), []byte(" x "), 1))+"\n"), body...), ErrStateVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeState(tc.data); !errors.Is(err, tc.want) {
				t.Fatalf("DecodeState: got %v; want %v", err, tc.want)
			}
		})
	}
}

func FuzzDecodeState(f *testing.F) {
	good, _ := EncodeState(SavedState{Instance: "x", Units: []SavedUnit{{Name: "a.service", Kind: "service", State: "running"}}})
	f.Add(good)
	f.Add([]byte("tend-state 1 00 2\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeState(data)
		if err != nil {
			return
		}
		again, err := EncodeState(s)
		if err != nil {
			t.Fatalf("a decoded state does not encode: %v", err)
		}
		if _, err := DecodeState(again); err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
	})
}

// TestPersistSavesWhatChanged: the state file, written part by part
// (only units that may have changed are saved again), says what saving
// every unit afresh says, after changes made by state changes, by an
// event for one unit and by an API call that changes no state; and a
// unit that left the plan is left out.
func TestPersistSavesWhatChanged(t *testing.T) {
	m, a := runningManager(t, "b.service", "c.service", "d.service")
	check := func(step string) {
		t.Helper()
		got, err := ReadStateFile(m.opts.StateFile)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		want := m.saveAll()
		norm := func(s SavedState) string {
			slices.SortFunc(s.Units, func(x, y SavedUnit) int { return strings.Compare(x.Name, y.Name) })
			b, _ := json.Marshal(s)
			return string(b)
		}
		if g, w := norm(got), norm(want); g != w {
			t.Fatalf("%s: state file\n%s\nwant\n%s", step, g, w)
		}
	}
	check("all running")

	apply(t, m, a, "main-exit-1") // a restarts: new main pid
	drain(m)
	m.persist()
	check("after a restart")

	b := svcOf(t, m, "b.service")
	m.handle(evKind{u: b.rt, ev: alarm{}})
	b.nRestarts = 7 // as if the event had changed a counter
	m.dirty = true
	m.persist()
	check("after an event for b")

	c := svcOf(t, m, "c.service")
	m.handle(evCall{done: make(chan struct{}), fn: func() { c.startTimes = append(c.startTimes, tableEpoch) }})
	m.dirty = true
	m.persist()
	check("after a call")

	delete(m.units, "d.service")
	m.handle(evCall{done: make(chan struct{}), fn: func() {}})
	m.dirty = true
	m.persist()
	check("after d left")
	if got, _ := ReadStateFile(m.opts.StateFile); slices.ContainsFunc(got.Units, func(u SavedUnit) bool { return u.Name == "d.service" }) {
		t.Fatal("d.service still saved")
	}
}

// TestPersistSyncsListenersOnlyWhenTheyMayChange: the fd holder's hook
// (OnPersist) is not called for a batch in which only services changed
// (an Accept=yes socket's instances come and go once per connection),
// and is called after a call, which may reload or restore sockets.
func TestPersistSyncsListenersOnlyWhenTheyMayChange(t *testing.T) {
	m, a := runningManager(t, "b.service")
	calls := 0
	m.opts.OnPersist = func(SavedState) { calls++ }

	apply(t, m, a, "main-exit-1") // a restarts: the state file changes
	drain(m)
	m.persist()
	if calls != 0 {
		t.Errorf("OnPersist called %d times after a service restarted; want 0", calls)
	}
	m.handle(evCall{done: make(chan struct{}), fn: func() {}})
	m.dirty = true
	m.persist()
	if calls != 1 {
		t.Errorf("OnPersist called %d times after a call; want 1", calls)
	}
}

// runningManager is a table manager over t.service and the services
// others, all running, whose state file (in a temporary directory) says
// so.
func runningManager(t testing.TB, others ...string) (*Manager, *service) {
	t.Helper()
	var defs []*unit.Unit
	for _, name := range others {
		d := tableUnit(unit.TypeSimple, unit.RestartAlways, 0)
		d.Name = name
		defs = append(defs, d)
	}
	m, u, f := newTableManager(t, tableUnit(unit.TypeSimple, unit.RestartAlways, 0), defs...)
	m.opts.StateFile = filepath.Join(t.TempDir(), "state")
	for _, v := range m.units {
		if s, ok := v.eng.(*service); ok {
			place(m, s, Running, f)
			s.startTimes = []time.Time{tableEpoch}
		}
	}
	m.dirty = true
	m.persist()
	return m, u
}

// TestWriteStateFileReplaces: a write replaces the file whole (a shorter
// state leaves nothing of the longer one), readable only by its owner,
// with no temporary file left; a directory that is gone is an error.
func TestWriteStateFileReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	for _, c := range []struct{ head, body string }{
		{"head one\n", strings.Repeat("x", 100000)},
		{"h2\n", "short"},
		{"", "no head"},
	} {
		if err := writeStateFile(path, []byte(c.head), []byte(c.body)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.head+c.body {
			t.Fatalf("file holds %d bytes %.20q…; want %d bytes %.20q…", len(got), got, len(c.head+c.body), c.head+c.body)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v; want 0600", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %v; want the state file alone", ents)
	}
	// More parts than one writev takes, some empty: all of them, in order.
	var parts [][]byte
	var want strings.Builder
	want.WriteString("head\n")
	for i := range 3 * iovMax {
		p := strconv.Itoa(i) + ","
		if i%7 == 0 {
			p = ""
		}
		parts = append(parts, []byte(p))
		want.WriteString(p)
	}
	if err := writeStateFile(path, []byte("head\n"), parts...); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != want.String() {
		t.Errorf("file of %d parts holds %d bytes (%v); want %d", len(parts), len(got), err, want.Len())
	}
	if err := writeStateFile(filepath.Join(dir, "gone", "state"), []byte("h\n"), []byte("b")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("write into a missing directory: %v; want a not-exist error", err)
	}
}

// TestConsumed: after a short write, what is left to write is the rest
// of the buffer it ended in, then the later ones.
func TestConsumed(t *testing.T) {
	parts := [][]byte{[]byte("abc"), []byte("de"), []byte("fghi")}
	for _, tt := range []struct {
		n    int
		want string
	}{
		{0, "abcdefghi"},
		{1, "bcdefghi"},
		{3, "defghi"},
		{4, "efghi"},
		{5, "fghi"},
		{8, "i"},
		{9, ""},
	} {
		var iov []unix.Iovec
		for _, p := range parts {
			iov = appendIovec(iov, p)
		}
		var got strings.Builder
		for _, v := range consumed(iov, tt.n) {
			got.Write(unsafe.Slice(v.Base, int(v.Len)))
		}
		if got.String() != tt.want {
			t.Errorf("consumed(%d): left %q; want %q", tt.n, got.String(), tt.want)
		}
	}
}

package supervise

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/unit"
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
// with no temporary file left, its head giving the body's length and
// checksum; a directory that is gone is an error.
func TestWriteStateFileReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	long := strings.Repeat("x", 3*bodyChunk+17)
	for _, parts := range [][]string{
		{long[:1000], long[1000:]}, // over several chunks
		{"short"},
		{"", "no head", ""},
		{},
	} {
		body := strings.Join(parts, "")
		err := writeStateFile(path, func(w *bodyWriter) {
			for _, p := range parts {
				w.write([]byte(p))
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(body))
		if want := string(stateHead(sum[:], int64(len(body)))) + body; string(got) != want {
			t.Fatalf("file holds %d bytes %.100q…; want %d bytes %.100q…", len(got), got, len(want), want)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v; want 0600", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("directory holds %v; want the state file alone", ents)
	}
	if err := writeStateFile(filepath.Join(dir, "gone", "state"), func(w *bodyWriter) { w.write([]byte("b")) }); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("write into a missing directory: %v; want a not-exist error", err)
	}
}

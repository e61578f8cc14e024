package supervise

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// The manager's state outlives it in two ways (docs/design.md, "Crash
// and re-exec"): written to the state file after every event batch that
// changed something, so that a new manager after a crash adopts what
// still runs, and handed to the next binary by daemon-reexec. Both carry
// the same SavedState.

// stateVersion is the format of SavedState. A file of another version
// is refused: the units are then started afresh beside nothing (their
// cgroups still show what runs).
const stateVersion = 1

// stateMagic begins a state file: "tend-state VERSION SHA256 LENGTH\n",
// then LENGTH bytes of JSON whose SHA-256 is SHA256.
const stateMagic = "tend-state"

// SavedState is the manager's state as it outlives the manager.
type SavedState struct {
	Version int `json:"version"`
	// Instance names the instance that wrote it (its cgroup base, or
	// runtime directory): a file from another instance is refused.
	Instance string      `json:"instance"`
	Units    []SavedUnit `json:"units"`
}

// KeepFDs lists the descriptors the saved units own (their fd stores),
// which a re-exec must keep open.
func (s *SavedState) KeepFDs() []int {
	var fds []int
	for _, u := range s.Units {
		for _, fd := range u.FDs {
			fds = append(fds, fd)
		}
	}
	return fds
}

// EncodeState renders s as a state file.
func EncodeState(s SavedState) ([]byte, error) {
	s.Version = stateVersion
	body, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	sum := sha256.Sum256(body)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %d %s %d\n", stateMagic, stateVersion, hex.EncodeToString(sum[:]), len(body))
	b.Write(body)
	return b.Bytes(), nil
}

// Errors of DecodeState a caller may tell apart.
var (
	ErrStateCorrupt = errors.New("state file is truncated or corrupt")
	ErrStateVersion = errors.New("state file has another format version")
)

// DecodeState parses a state file. A truncated or altered file, or one
// of another version, is refused as a whole: nothing from it is trusted.
func DecodeState(data []byte) (SavedState, error) {
	var s SavedState
	head, body, ok := bytes.Cut(data, []byte("\n"))
	if !ok {
		return s, ErrStateCorrupt
	}
	f := bytes.Fields(head)
	if len(f) != 4 || string(f[0]) != stateMagic {
		return s, ErrStateCorrupt
	}
	if v, err := strconv.Atoi(string(f[1])); err != nil || v != stateVersion {
		return s, fmt.Errorf("%w (%q, want %d)", ErrStateVersion, f[1], stateVersion)
	}
	n, err := strconv.Atoi(string(f[3]))
	if err != nil || n != len(body) {
		return s, ErrStateCorrupt
	}
	sum := sha256.Sum256(body)
	if hex.EncodeToString(sum[:]) != string(f[2]) {
		return s, ErrStateCorrupt
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return s, fmt.Errorf("%w: %v", ErrStateCorrupt, err)
	}
	if s.Version != stateVersion {
		return SavedState{}, fmt.Errorf("%w (%d, want %d)", ErrStateVersion, s.Version, stateVersion)
	}
	return s, nil
}

// ReadStateFile reads and decodes the state file at path. A missing file
// is no error: an empty state.
func ReadStateFile(path string) (SavedState, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return SavedState{Version: stateVersion}, nil
	}
	if err != nil {
		return SavedState{}, fmt.Errorf("state file %s: %w", path, err)
	}
	s, err := DecodeState(data)
	if err != nil {
		return s, fmt.Errorf("state file %s: %w", path, err)
	}
	return s, nil
}

// writeStateFile replaces path atomically (write, rename) with the
// state file whose body fill gives: a reader sees the old state or the
// new one, never half of either. The body is streamed through a small
// buffer after room left for the head, which is written last, its
// length zero-padded to a fixed width (a 2 MB body is never held whole).
// It is not synced: the state only matters while the kernel that runs
// the services does, and it lives in the runtime directory (a tmpfs).
//
// It is written after every restart, so it uses plain system calls:
// os.OpenFile registers a file with Go's poller and back (five more calls
// on a tmpfs), and os.Rename stats the target first.
func writeStateFile(path string, fill func(w *bodyWriter)) error {
	_, err := writeStateFileSized(path, 0, fill)
	return err
}

// writeStateFileSized is writeStateFile with its buffer sized for a body
// of about hint bytes (the last one's; 0: unknown), so that a small
// state, written after every restart, does not allocate a whole chunk
// each time; it returns the body's size.
func writeStateFileSized(path string, hint int64, fill func(w *bodyWriter)) (int64, error) {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	fd, err := unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("state file: %w", &os.PathError{Op: "open", Path: tmp, Err: err})
	}
	w := &bodyWriter{fd: fd, name: tmp, off: int64(len(stateHead(nil, 0))), h: sha256.New(), hint: hint}
	fill(w)
	w.flush()
	err = w.err
	if err == nil {
		err = pwriteAll(fd, tmp, stateHead(w.h.Sum(nil), w.n), 0)
	}
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		err = &os.PathError{Op: "close", Path: tmp, Err: cerr}
	}
	if err != nil {
		return 0, fmt.Errorf("state file: %w", err)
	}
	if err := unix.Rename(tmp, path); err != nil {
		return 0, fmt.Errorf("state file: %w", &os.LinkError{Op: "rename", Old: tmp, New: path, Err: err})
	}
	return w.n, nil
}

// stateHead is a state file's head line for a body of n bytes whose
// SHA-256 is sum (nil: a head of the same length). DecodeState reads
// the zero-padded length as any other.
func stateHead(sum []byte, n int64) []byte {
	if sum == nil {
		sum = make([]byte, sha256.Size)
	}
	return fmt.Appendf(nil, "%s %d %x %012d\n", stateMagic, stateVersion, sum, n)
}

// bodyWriter streams a state file's body to its file, hashing it.
type bodyWriter struct {
	fd   int
	name string
	off  int64 // where buf goes in the file
	buf  []byte
	hint int64 // the body's expected size, for buf's first allocation
	h    hash.Hash
	n    int64 // bytes of body so far
	err  error // the first write error; later writes are dropped
}

// bodyChunk is how much of the body a write carries.
const bodyChunk = 64 << 10

// write adds p to the body.
func (w *bodyWriter) write(p []byte) {
	if w.buf == nil {
		w.buf = make([]byte, 0, min(bodyChunk, max(w.hint+w.hint/8, int64(len(p)), 512)))
	}
	w.buf = append(w.buf, p...)
	w.wrote()
}

// wrote takes what was appended to w.buf directly into the body.
func (w *bodyWriter) wrote() {
	if len(w.buf) >= bodyChunk {
		w.flush()
	}
}

func (w *bodyWriter) flush() {
	if len(w.buf) == 0 {
		return
	}
	w.h.Write(w.buf)
	w.n += int64(len(w.buf))
	if w.err == nil {
		w.err = pwriteAll(w.fd, w.name, w.buf, w.off)
	}
	w.off += int64(len(w.buf))
	w.buf = w.buf[:0]
}

// pwriteAll writes p to fd (the file name) at off, resuming after a
// short write (which a regular file gives only when the disk is full).
func pwriteAll(fd int, name string, p []byte, off int64) error {
	for len(p) > 0 {
		n, err := unix.Pwrite(fd, p, off)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "write", Path: name, Err: err}
		}
		if n == 0 {
			return &os.PathError{Op: "write", Path: name, Err: io.ErrShortWrite}
		}
		p, off = p[n:], off+int64(n)
	}
	return nil
}

// A state file of many units is not encoded afresh for every change of
// one: each unit's part is kept, encoded, from the write it last changed
// in (saved), and a write encodes only the units that may have changed
// since (changed: those whose state or main process changed, and those
// an event was handled for; after an API call or an alarm, all). The
// rest of a write is copying bytes and one checksum.

// savedUnit is one unit's part of the state file as last saved, encoded
// and preceded by a comma (the separator of the units' list, so a write
// need not add one per unit); nil json: nothing to take back, left out.
type savedUnit struct{ json []byte }

// touch records that u changed: the state file is written after this
// event batch, with u saved again.
func (m *Manager) touch(u *rt) {
	m.mayChange(u)
	if !m.unsaved(u) { // instances are found in their groups (socket_found.go)
		m.dirty = true
	}
}

// mayChange marks u to be saved again at the next write, which it does
// not cause. Without a state file nothing is written, and nothing marked.
func (m *Manager) mayChange(u *rt) {
	if m.opts.StateFile == "" {
		return
	}
	if m.changed == nil {
		m.changed = map[*rt]struct{}{}
	}
	m.changed[u] = struct{}{}
}

// saveChanged brings m.saved up to date.
func (m *Manager) saveChanged() {
	if m.saved == nil || m.changedAll {
		m.saved = make(map[*rt]*savedUnit, len(m.units))
		for _, u := range m.units {
			m.mayChange(u)
		}
	}
	for u := range m.changed {
		if m.units[u.name] != u {
			delete(m.saved, u)
			continue // gone from the plan
		}
		if _, ok := plainTimer(u); ok {
			delete(m.saved, u) // encoded at each write
			continue
		}
		m.saved[u] = m.saveOne(u)
	}
	for u := range m.saved {
		if m.units[u.name] != u {
			delete(m.saved, u)
		}
	}
	if len(m.changed) > changedKept {
		// A cleared map keeps its buckets: the first save marks every
		// unit, and 10,000 timers would keep ~30 B each for it.
		m.changed = nil
	} else {
		clear(m.changed)
	}
	m.changedAll = false
	m.forgetForkTicks()
}

// changedKept is the most units marked for one save whose set is
// cleared for the next rather than dropped: an event changes a few.
const changedKept = 64

// saveOne records u unless it is inactive with nothing to remember.
func (m *Manager) saveOne(u *rt) *savedUnit {
	if u.transient != nil && u.state != Failed && m.instancesInGroups() {
		return &savedUnit{} // found in its group after a crash (socket_found.go)
	}
	su, ok := m.saveOneUnit(u)
	if !ok {
		return &savedUnit{}
	}
	b, err := json.Marshal(su)
	if err != nil {
		m.opts.Logger.Error("cannot save unit state", "unit", u.name, "err", err)
		return &savedUnit{}
	}
	return &savedUnit{json: append(append(make([]byte, 0, len(b)+1), ','), b...)}
}

// saveOneUnit is u's SavedUnit; false if there is nothing to take back.
func (m *Manager) saveOneUnit(u *rt) (SavedUnit, bool) {
	if u.state == Dead && u.result == ResultSuccess && u.startTimes == nil && !keepsFDs(u) {
		return SavedUnit{}, false // never started: nothing to take back
	}
	if svc, ok := u.eng.(*service); ok {
		m.note(&svc.mainStart, svc.mainPID)
		m.note(&svc.controlStart, svc.controlPID)
	}
	if sd, ok := u.eng.(*svdirUnit); ok {
		m.note(&sd.pidStart, sd.pid)
	}
	su, err := m.saveUnit(u)
	if err != nil {
		m.opts.Logger.Error("cannot save unit state", "unit", u.name, "err", err)
		return SavedUnit{}, false
	}
	return su, true
}

// saveAll records every unit that is not inactive with nothing to
// remember (a re-exec's hand-over). Called on the loop.
func (m *Manager) saveAll() SavedState {
	s := SavedState{Version: stateVersion, Instance: m.opts.Instance}
	for _, u := range m.units {
		if su, ok := m.saveOneUnit(u); ok {
			s.Units = append(s.Units, su)
		}
	}
	return s
}

// saveSockets is the saved state of the socket units (OnPersist's),
// without encoding every other unit again; persist calls it when the
// listeners may have moved (listenersMoved).
func (m *Manager) saveSockets() SavedState {
	s := SavedState{Version: stateVersion, Instance: m.opts.Instance}
	for _, u := range m.units {
		if _, ok := u.eng.(*socket); !ok {
			continue
		}
		if su, ok := m.saveOneUnit(u); ok {
			s.Units = append(s.Units, su)
		}
	}
	return s
}

// encodeSaved writes the state file's body from m.saved and the plain
// timers (persist_timers.go), as EncodeState would render saveAll's
// state, through w.
func (m *Manager) encodeSaved(w *bodyWriter) {
	inst, err := json.Marshal(m.opts.Instance)
	if err != nil {
		w.err = fmt.Errorf("state: %w", err)
		return
	}
	w.write(fmt.Appendf(nil, `{"version":%d,"instance":%s,"units":`, stateVersion, inst))
	sep := byte('[') // then ','
	for u, e := range m.saved {
		if e.json == nil {
			continue
		}
		if _, ok := plainTimer(u); ok {
			continue // below, as it is now
		}
		w.write([]byte{sep})
		w.write(e.json[1:]) // kept with its comma
		sep = ','
	}
	var startup []byte
	if s := m.opts.Timers.Startup; !s.IsZero() {
		startup = appendJSONTime(nil, s)
	}
	for _, u := range m.units {
		if t, ok := plainTimer(u); ok {
			st := startup
			if t.env == nil {
				st = nil
			}
			w.buf = appendPlainTimer(append(w.buf, sep), u, st)
			w.wrote()
			sep = ','
		}
	}
	if sep == '[' {
		w.write([]byte("null}"))
	} else {
		w.write([]byte("]}"))
	}
}

// persist writes the state file if anything changed since it was last
// written: once per event batch, so a burst of changes costs one write.
func (m *Manager) persist() {
	if !m.dirty || m.opts.StateFile == "" || m.frozen {
		return
	}
	m.dirty = false
	// The fd holder need only hear of the listeners when they may have
	// changed, not after every accepted connection's instance.
	syncHolder := m.listenersMoved || m.changedAll || m.saved == nil
	m.listenersMoved = false
	m.saveChanged()
	n, err := writeStateFileSized(m.opts.StateFile, m.stateSize, m.encodeSaved)
	m.stateSize = n
	if err != nil {
		m.opts.Logger.Error("cannot write state file; a crash would lose track of services", "err", err)
	}
	if m.opts.OnPersist != nil && syncHolder {
		m.opts.OnPersist(m.saveSockets())
	}
}

// Freeze hands the manager's state over for a re-exec: it runs on the
// loop after every event queued before it (stop the reaper and the
// notify socket first, so that no exit or notification comes after),
// and the loop handles nothing more. Timers still armed fire into a
// loop that is gone; the next process arms them again.
func (m *Manager) Freeze(ctx context.Context) (SavedState, error) {
	var s SavedState
	err := m.do(ctx, func() {
		s = m.saveAll()
		m.frozen = true
	})
	return s, err
}

// keepsFDs reports whether u's engine holds descriptors that must
// outlive the manager even while it is down (a service directory's
// supervise/, which sv reads whether the service runs or not).
func keepsFDs(u *rt) bool {
	k, ok := u.eng.(fdKeeper)
	return ok && len(k.saveFDs()) > 0
}

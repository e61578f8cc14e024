package supervise

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"unsafe"

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

// writeStateFile replaces path with head and body atomically (write, rename): a
// reader sees the old state or the new one, never half of either. It is
// not synced: the state only matters while the kernel that runs the
// services does, and it lives in the runtime directory (a tmpfs).
//
// It is written after every restart, so it uses plain system calls:
// os.OpenFile registers a file with Go's poller and back (five more calls
// on a tmpfs), and os.Rename stats the target first; head and the body's
// parts go out in writev calls, never copied into one buffer.
func writeStateFile(path string, head []byte, body ...[]byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	fd, err := unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("state file: %w", &os.PathError{Op: "open", Path: tmp, Err: err})
	}
	err = writeAll(fd, tmp, head, body)
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		err = &os.PathError{Op: "close", Path: tmp, Err: cerr}
	}
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if err := unix.Rename(tmp, path); err != nil {
		return fmt.Errorf("state file: %w", &os.LinkError{Op: "rename", Old: tmp, New: path, Err: err})
	}
	return nil
}

// iovMax is the most buffers one writev takes (IOV_MAX).
const iovMax = 1024

// writeAll writes head and then body's parts to fd (the file name), in
// writev calls of at most iovMax buffers, resuming after a short write
// (which a regular file gives only when the disk is full). Its iovec
// array is made once, at its size: unix.Writev grows one from eight
// buffers by appending, and joining head to body copied the slice, 3 KB
// of garbage per write of a 50-unit file (a fifth of what a restart
// allocates, and so of how often a crash loop collects garbage).
func writeAll(fd int, name string, head []byte, body [][]byte) error {
	iov := make([]unix.Iovec, 0, 1+len(body))
	iov = appendIovec(iov, head)
	for _, p := range body {
		iov = appendIovec(iov, p)
	}
	for len(iov) > 0 {
		chunk := iov[:min(len(iov), iovMax)]
		n, _, errno := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&chunk[0])), uintptr(len(chunk)))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return &os.PathError{Op: "write", Path: name, Err: errno}
		}
		if n == 0 {
			return &os.PathError{Op: "write", Path: name, Err: io.ErrShortWrite}
		}
		iov = consumed(iov, int(n))
	}
	return nil
}

func appendIovec(iov []unix.Iovec, p []byte) []unix.Iovec {
	if len(p) == 0 {
		return iov
	}
	v := unix.Iovec{Base: &p[0]}
	v.SetLen(len(p))
	return append(iov, v)
}

// consumed drops the first n bytes from iov: the buffers written whole,
// and the written start of the next.
func consumed(iov []unix.Iovec, n int) []unix.Iovec {
	for n > 0 && len(iov) > 0 {
		l := int(iov[0].Len)
		if n < l {
			// Within the buffer, never one past its end.
			iov[0].Base = (*byte)(unsafe.Add(unsafe.Pointer(iov[0].Base), n))
			iov[0].SetLen(l - n)
			return iov
		}
		iov, n = iov[1:], n-l
	}
	return iov
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

// encodeSaved renders the state file from m.saved, as EncodeState would
// render saveAll's state: its head line and its body, in parts. The body
// is not joined into one buffer: with 10,000 waiting timers it is 2 MB,
// which a buffer kept between writes held for good (a fifth of what a
// waiting timer costs) and a fresh one would allocate at every write.
func (m *Manager) encodeSaved() (head []byte, body [][]byte, err error) {
	inst, err := json.Marshal(m.opts.Instance)
	if err != nil {
		return nil, nil, fmt.Errorf("state: %w", err)
	}
	body = make([][]byte, 1, len(m.saved)+2)
	body[0] = fmt.Appendf(nil, `{"version":%d,"instance":%s,"units":[`, stateVersion, inst)
	for _, e := range m.saved {
		if e.json != nil {
			body = append(body, e.json)
		}
	}
	if len(body) == 1 {
		body[0] = append(body[0][:len(body[0])-1], "null"...)
	} else {
		body[1] = body[1][1:] // the first unit's comma
		body = append(body, []byte{']'})
	}
	body = append(body, []byte{'}'})
	h := sha256.New()
	n := 0
	for _, p := range body {
		h.Write(p)
		n += len(p)
	}
	head = fmt.Appendf(nil, "%s %d %s %d\n", stateMagic, stateVersion, hex.EncodeToString(h.Sum(nil)), n)
	return head, body, nil
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
	head, body, err := m.encodeSaved()
	if err == nil {
		err = writeStateFile(m.opts.StateFile, head, body...)
	}
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

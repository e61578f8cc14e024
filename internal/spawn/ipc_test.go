package spawn

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRemoveIPC: the segments and message queues of the unit's user go,
// root's stay.
func TestRemoveIPC(t *testing.T) {
	needRoot(t)
	const uid = 61999
	mine := newSegment(t, uid)
	roots := newSegment(t, 0)
	mq := t.TempDir()
	q := filepath.Join(mq, "queue")
	if err := os.WriteFile(q, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chown(q, uid, uid)
	if err := removeIPCOf(uid, uid, "/proc/sysvipc", mq); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.SysvShmCtl(mine, unix.IPC_STAT, &unix.SysvShmDesc{}); err == nil {
		t.Error("the user's segment is still there")
	}
	if _, err := unix.SysvShmCtl(roots, unix.IPC_STAT, &unix.SysvShmDesc{}); err != nil {
		t.Errorf("root's segment went: %v", err)
	}
	if _, err := os.Stat(q); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the user's message queue is still there: %v", err)
	}
}

// newSegment creates a shared memory segment owned by uid, removed at
// cleanup if still there.
func newSegment(t *testing.T, uid int) int {
	t.Helper()
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|0o600)
	if err != nil {
		t.Skipf("no System V shared memory: %v", err)
	}
	t.Cleanup(func() { unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
	desc := &unix.SysvShmDesc{}
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, desc); err != nil {
		t.Fatal(err)
	}
	desc.Perm.Uid, desc.Perm.Gid = uint32(uid), uint32(uid)
	if _, err := unix.SysvShmCtl(id, unix.IPC_SET, desc); err != nil {
		t.Fatal(err)
	}
	return id
}

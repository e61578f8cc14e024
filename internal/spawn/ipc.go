package spawn

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/tendproject/tend/internal/unit"
	"golang.org/x/sys/unix"
)

// RemoveIPC implements RemoveIPC=: once the unit has stopped, the System
// V shared memory segments, semaphore sets and message queues and the
// POSIX message queues its user or group owns or created are removed.
// Root's are never touched. name is the unit's name (a dynamic user's
// id derives from it); etc holds passwd and group ("" = /etc).
func RemoveIPC(ec *unit.ExecContext, name, etc string) error {
	if !ec.SandboxSettings().RemoveIPC || (ec.User == "" && !ec.DynamicUser) {
		return nil
	}
	if etc == "" {
		etc = "/etc"
	}
	uid, gid := -1, -1
	if ec.DynamicUser && ec.User == "" {
		id, err := freeID(etc, strings.TrimSuffix(name, filepath.Ext(name)))
		if err != nil {
			return err
		}
		uid, gid = id, id
	} else {
		u, err := LookupUserIn(etc, ec.User)
		if err != nil {
			return err
		}
		uid, gid = u.UID, u.GID
	}
	if uid == 0 {
		return nil
	}
	return removeIPCOf(uid, gid, "/proc/sysvipc", "/dev/mqueue")
}

// removeIPCOf removes the IPC objects of uid or gid listed below
// sysvipc, and the message queues in mqueue (if mounted there).
func removeIPCOf(uid, gid int, sysvipc, mqueue string) error {
	owned := func(fields map[string]int) bool {
		return fields["uid"] == uid || fields["cuid"] == uid || (gid > 0 && (fields["gid"] == gid || fields["cgid"] == gid))
	}
	rm := map[string]func(id int) error{
		"shm": func(id int) error { _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); return err },
		"sem": func(id int) error { return ipcCall(unix.SYS_SEMCTL, uintptr(id), 0, unix.IPC_RMID) },
		"msg": func(id int) error { return ipcCall(unix.SYS_MSGCTL, uintptr(id), unix.IPC_RMID, 0) },
	}
	var errs []error
	for kind, remove := range rm {
		ids, err := ipcObjects(filepath.Join(sysvipc, kind), owned)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		for _, id := range ids {
			if err := remove(id); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EIDRM) {
				errs = append(errs, err)
			}
		}
	}
	entries, _ := os.ReadDir(mqueue)
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && (int(st.Uid) == uid || (gid > 0 && int(st.Gid) == gid)) {
			if err := os.Remove(filepath.Join(mqueue, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func ipcCall(trap, id, a, b uintptr) error {
	if _, _, e := unix.Syscall(trap, id, a, b); e != 0 {
		return e
	}
	return nil
}

// ipcObjects lists the ids (second column) of the objects in a
// /proc/sysvipc table whose named numeric columns satisfy keep.
func ipcObjects(table string, keep func(map[string]int) bool) ([]int, error) {
	b, err := os.ReadFile(table)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(b), "\n")
	head := strings.Fields(lines[0])
	var ids []int
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != len(head) || len(f) < 2 {
			continue
		}
		cols := map[string]int{}
		for i, name := range head {
			if n, err := strconv.Atoi(f[i]); err == nil {
				cols[name] = n
			}
		}
		if keep(cols) {
			ids = append(ids, cols[head[1]])
		}
	}
	return ids, nil
}

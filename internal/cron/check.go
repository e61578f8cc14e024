package cron

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// FileInfo is what cron looks at before it trusts a crontab.
type FileInfo struct {
	Mode  fs.FileMode // as lstat reports it
	UID   uint32
	Nlink uint64
}

// FS is the file system crontabs are read from; tests give their own.
type FS interface {
	Lstat(path string) (FileInfo, error)
	ReadFile(path string) ([]byte, error)
}

// OSFS reads the real file system.
type OSFS struct{}

// Lstat stats path without following a symbolic link.
func (OSFS) Lstat(path string) (FileInfo, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return FileInfo{}, err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return FileInfo{}, err
	}
	return FileInfo{Mode: fi.Mode(), UID: st.Uid, Nlink: uint64(st.Nlink)}, nil
}

// ReadFile reads path.
func (OSFS) ReadFile(path string) ([]byte, error) { return os.ReadFile(path) }

// Check refuses a crontab as Debian's cron does: a symbolic link, not a
// regular file, more than one hard link, writable by group or others
// (a user crontab: any permission beyond the owner's read and write),
// or owned by someone else than root (a user crontab: than its user,
// whose uid is ownerUID).
func Check(fi FileInfo, kind Kind, ownerUID uint32) error {
	perm := fi.Mode.Perm() | fi.Mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
	switch {
	case fi.Mode&fs.ModeSymlink != 0:
		return fmt.Errorf("refused: a symbolic link")
	case !fi.Mode.IsRegular():
		return fmt.Errorf("refused: not a regular file")
	case fi.Nlink != 1:
		return fmt.Errorf("refused: %d hard links", fi.Nlink)
	case perm&0400 == 0:
		return fmt.Errorf("refused: mode %04o, not readable by its owner", perm)
	case kind == System && perm&0o022 != 0:
		return fmt.Errorf("refused: mode %04o, writable by group or others", perm)
	case kind == System && perm&0o7100 != 0:
		return fmt.Errorf("refused: mode %04o, executable or set-id", perm)
	case kind == User && perm&^0o600 != 0:
		return fmt.Errorf("refused: mode %04o, accessible by others than its owner", perm)
	case kind == System && fi.UID != 0:
		return fmt.Errorf("refused: owned by uid %d, not root", fi.UID)
	case kind == User && fi.UID != ownerUID && fi.UID != 0:
		return fmt.Errorf("refused: owned by uid %d, not its user (uid %d)", fi.UID, ownerUID)
	}
	return nil
}

// Load checks and parses one crontab. A refused or unreadable file is a
// single error naming it; otherwise bad lines are errors and the rest
// loads. A user crontab's owner is its file name.
func Load(fsys FS, path string, kind Kind, opt Options) ([]Entry, []error) {
	fi, err := fsys.Lstat(path)
	if err != nil {
		return nil, []error{&Error{File: path, Msg: err.Error()}}
	}
	opt = opt.withAccounts()
	var uid uint32
	if kind == User {
		u, err := lookupUID(opt.Accounts, opt.Owner)
		if err != nil {
			return nil, []error{&Error{File: path, Msg: err.Error()}}
		}
		uid = u
	}
	if err := Check(fi, kind, uid); err != nil {
		return nil, []error{&Error{File: path, Msg: err.Error()}}
	}
	data, err := fsys.ReadFile(path)
	if err != nil {
		return nil, []error{&Error{File: path, Msg: err.Error()}}
	}
	return Parse(path, data, kind, opt)
}

// CronDName reports whether a file in /etc/cron.d is read at all: cron
// takes only names of letters, digits, "_" and "-" (run-parts' rule), so
// editor backups and dpkg leftovers are skipped without a word.
func CronDName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

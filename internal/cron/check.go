package cron

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/tendproject/tend/internal/nowait"
)

// FileInfo is what cron looks at before it trusts a crontab.
type FileInfo struct {
	Mode  fs.FileMode // as lstat reports it
	UID   uint32
	Nlink uint64
}

// FS is the file system crontabs are read from; tests give their own.
type FS interface {
	// ReadChecked reads path once check has accepted what path is. The
	// file checked must be the file read: a crontab's owner may swap it
	// for a symbolic link or a FIFO between a stat and an open.
	ReadChecked(path string, check func(FileInfo) error) ([]byte, error)
}

// OSFS reads the real file system.
type OSFS struct{}

// ReadChecked opens path without following a symbolic link and without
// waiting for a FIFO's writer (nowait.ReadFile), checks the descriptor
// it got and reads that. A symbolic link is checked as lstat sees it,
// which refuses it with the reason.
func (OSFS) ReadChecked(path string, check func(FileInfo) error) ([]byte, error) {
	data, err := nowait.ReadFile(path, syscall.O_NOFOLLOW, func(fi fs.FileInfo) error { return check(fileInfo(fi)) })
	if errors.Is(err, syscall.ELOOP) {
		if fi, lerr := os.Lstat(path); lerr == nil {
			if cerr := check(fileInfo(fi)); cerr != nil {
				return nil, cerr
			}
		}
	}
	return data, err
}

func fileInfo(fi fs.FileInfo) FileInfo {
	st, _ := fi.Sys().(*syscall.Stat_t)
	if st == nil {
		return FileInfo{Mode: fi.Mode()}
	}
	return FileInfo{Mode: fi.Mode(), UID: st.Uid, Nlink: uint64(st.Nlink)}
}

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
	opt = opt.withAccounts()
	var uid uint32
	if kind == User {
		u, err := lookupUID(opt.Accounts, opt.Owner)
		if err != nil {
			return nil, []error{&Error{File: path, Msg: err.Error()}}
		}
		uid = u
	}
	data, err := fsys.ReadChecked(path, func(fi FileInfo) error { return Check(fi, kind, uid) })
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

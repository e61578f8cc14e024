// Package flock takes exclusive advisory locks (flock(2)) that say who
// holds them: a refused caller learns the holder's pid from /proc/locks,
// so "already running" messages can name the running process.
package flock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// HeldError reports a lock held by another open file description.
type HeldError struct {
	Path string
	PID  int // the holder's pid; 0 when it cannot be found
}

func (e *HeldError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("%s is locked by pid %d", e.Path, e.PID)
	}
	return e.Path + " is locked by another process"
}

// Try takes an exclusive lock on f without waiting. The lock lasts until
// every descriptor of f's open file description is closed. If another
// holds it, the error is a *HeldError.
func Try(f *os.File) error {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EWOULDBLOCK) {
		return fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return &HeldError{Path: f.Name(), PID: Holder(f)}
}

// File opens (creating it if needed) and locks the file at path, and
// writes the caller's pid in it for people and for Holder's fallback.
// Nothing is written unless the lock was taken. The file is never
// removed: unlinking a lock file lets two processes lock two inodes.
func File(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, err
	}
	if err := Try(f); err != nil {
		var held *HeldError
		if errors.As(err, &held) && held.PID == 0 {
			held.PID = pidIn(f)
		}
		f.Close()
		return nil, err
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// Dir locks a directory (any file system that supports flock, cgroupfs
// included). The returned file holds the lock.
func Dir(path string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Clean(path), os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := Try(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Holder returns the pid holding a flock on f's inode, as /proc/locks
// shows it (in the reader's pid namespace), or 0.
func Holder(f *os.File) int {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0
	}
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0
	}
	return holderIn(b, unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
}

// pidIn reads the pid a holder wrote into a lock file.
func pidIn(f *os.File) int {
	var b [32]byte
	n, _ := f.ReadAt(b[:], 0)
	end := 0
	for end < n && b[end] >= '0' && b[end] <= '9' {
		end++
	}
	pid, err := strconv.Atoi(string(b[:end]))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

package procfs

import (
	"golang.org/x/sys/unix"
)

// StatFile is /proc/PID/stat kept open: reading it again from offset 0
// makes the kernel generate it afresh, so a refreshing view (top) saves
// the open and close of every process in every frame — half the kernel
// time of a refresh. It stays bound to the process it was opened for: once
// that one exits, reads fail with ErrGone even if the pid is reused.
type StatFile struct {
	fd   int
	pid  int
	path string
}

// OpenStat opens pid's stat file for repeated reads.
func (r *Reader) OpenStat(pid int) (*StatFile, error) {
	path := r.FS.pidPath(pid, "stat")
	fd, err := r.open(path)
	if err != nil {
		return nil, err
	}
	return &StatFile{fd: fd, pid: pid, path: path}, nil
}

// PID is the process the file belongs to.
func (f *StatFile) PID() int { return f.pid }

// ReadStat reads f again.
func (r *Reader) ReadStat(f *StatFile) (Stat, error) {
	pread := unix.Pread
	if r.FS.raw {
		pread = rawPread
	}
	for {
		n, err := pread(f.fd, r.buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return Stat{}, fileErr(f.path, err)
		}
		if n == len(r.buf) { // a stat line is a few hundred bytes; never so long
			r.buf = append(r.buf, make([]byte, len(r.buf))...)
			continue
		}
		return ParseStat(r.buf[:n])
	}
}

// Close closes f.
func (f *StatFile) Close() error { return unix.Close(f.fd) }

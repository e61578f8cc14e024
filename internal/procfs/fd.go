package procfs

import (
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// FD is one open file descriptor of a process.
type FD struct {
	Num    int
	Target string // the link text: a path, "socket:[123]", "pipe:[456]", "anon_inode:[eventfd]", …
	Read   bool   // opened for reading (from the link's permission bits)
	Write  bool   // opened for writing
	// What fstat of the open file says; zero when it could not be stat'ed.
	Mode  uint32 // st_mode: file type and permissions
	Dev   uint64
	Inode uint64
	Size  int64
	Err   error // set when the fd vanished or could not be read
}

// Kind names the object: "REG", "DIR", "CHR", "BLK", "FIFO", "SOCK", "LNK",
// or "a_inode" (anonymous inode), "unknown".
func (f *FD) Kind() string {
	switch f.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "REG"
	case unix.S_IFDIR:
		return "DIR"
	case unix.S_IFCHR:
		return "CHR"
	case unix.S_IFBLK:
		return "BLK"
	case unix.S_IFIFO:
		return "FIFO"
	case unix.S_IFSOCK:
		return "SOCK"
	case unix.S_IFLNK:
		return "LNK"
	}
	if strings.HasPrefix(f.Target, "anon_inode:") {
		return "a_inode"
	}
	return "unknown"
}

// LinkInode returns the inode number in a "socket:[N]" or "pipe:[N]"
// target, and the prefix ("socket", "pipe").
func (f *FD) LinkInode() (kind string, ino uint64, ok bool) {
	return ParseLinkInode(f.Target)
}

// ParseLinkInode splits "socket:[123]" into "socket" and 123.
func ParseLinkInode(t string) (string, uint64, bool) {
	kind, rest, found := strings.Cut(t, ":[")
	if !found || !strings.HasSuffix(rest, "]") {
		return "", 0, false
	}
	ino, err := strconv.ParseUint(rest[:len(rest)-1], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return kind, ino, true
}

// FDs lists the open file descriptors of pid in ascending order with their
// targets, modes and inodes. A descriptor closed while being read is kept
// with Err set, so the caller can mark it rather than lose it.
func (r *Reader) FDs(pid int) ([]FD, error) {
	dir := r.FS.pidPath(pid, "fd")
	dfd, nums, err := openDirNums(dir)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dfd)
	out := make([]FD, len(nums))
	// Up to three syscalls per descriptor add up for processes with
	// thousands of them; above a few hundred, two goroutines share the
	// work. Names relative to the open directory spare the kernel the
	// walk through /proc/PID/fd for each.
	half := len(nums)
	if len(nums) > 256 {
		half = (len(nums) + 1) / 2
	}
	var wg sync.WaitGroup
	for lo := 0; lo < len(nums); lo += half {
		hi := min(lo+half, len(nums))
		wg.Add(1)
		go func() {
			defer wg.Done()
			link := make([]byte, 4096)
			for i := lo; i < hi; i++ {
				out[i] = fdAt(dfd, dir, nums[i], link)
			}
		}()
	}
	wg.Wait()
	return out, nil
}

// FDTargets lists the link targets of pid's descriptors only: it is what a
// scan for the holder of a socket or pipe needs, at one syscall per fd.
func (r *Reader) FDTargets(pid int, visit func(fd int, target string)) error {
	dfd, nums, err := openDirNums(r.FS.pidPath(pid, "fd"))
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	link := r.buf[:cap(r.buf)]
	for _, n := range nums {
		m, err := unix.Readlinkat(dfd, strconv.Itoa(n), link)
		if err == nil {
			visit(n, string(link[:m]))
		}
	}
	return nil
}

// FDAccess reports how pid opened descriptor fd: the kernel gives the
// link in /proc/PID/fd the owner's read and write bits of the open file's
// mode (what fdinfo's flags say with O_ACCMODE), one lstat.
func (r *Reader) FDAccess(pid, fd int) (read, write bool, err error) {
	p := r.FS.pidPath(pid, "fd/"+strconv.Itoa(fd))
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return false, false, fileErr(p, err)
	}
	return st.Mode&unix.S_IRUSR != 0, st.Mode&unix.S_IWUSR != 0, nil
}

// fdAt describes descriptor n, an entry of the fd directory dir open as dfd.
func fdAt(dfd int, dir string, n int, link []byte) FD {
	fd := FD{Num: n}
	name := strconv.Itoa(n)
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		fd.Err = fileErr(dir+"/"+name, err)
		return fd
	}
	fd.Read = st.Mode&unix.S_IRUSR != 0
	fd.Write = st.Mode&unix.S_IWUSR != 0
	m, err := unix.Readlinkat(dfd, name, link)
	if err != nil {
		fd.Err = fileErr(dir+"/"+name, err)
		return fd
	}
	fd.Target = string(link[:m])
	// A socket's or pipe's link names its inode; fstat would add nothing
	// but a syscall per descriptor.
	if kind, ino, ok := ParseLinkInode(fd.Target); ok && (kind == "socket" || kind == "pipe") {
		fd.Inode, fd.Mode = ino, unix.S_IFSOCK
		if kind == "pipe" {
			fd.Mode = unix.S_IFIFO
		}
		return fd
	}
	if err := unix.Fstatat(dfd, name, &st, 0); err == nil {
		fd.Mode, fd.Dev, fd.Inode, fd.Size = st.Mode, st.Dev, st.Ino, st.Size
	} else if strings.HasPrefix(fd.Target, "/") {
		fd.Err = fileErr(dir+"/"+name, err)
	}
	return fd
}

// openDirNums opens dir and lists its numeric names, ascending; the
// caller closes the returned descriptor.
func openDirNums(dir string) (int, []int, error) {
	dfd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, nil, fileErr(dir, err)
	}
	var nums []int
	err = eachDirNums(dfd, func(b []int) bool {
		nums = append(nums, b...)
		return true
	})
	if err != nil {
		unix.Close(dfd)
		return -1, nil, fileErr(dir, err)
	}
	sort.Ints(nums)
	return dfd, nums, nil
}

// readDirNums lists the numeric names of a directory, ascending.
func readDirNums(dir string) ([]int, error) {
	dfd, nums, err := openDirNums(dir)
	if err != nil {
		return nil, err
	}
	unix.Close(dfd)
	return nums, nil
}

// Tasks lists the thread ids of pid (/proc/PID/task), ascending.
func (r *Reader) Tasks(pid int) ([]int, error) {
	return readDirNums(r.FS.pidPath(pid, "task"))
}

// Owner returns the effective uid and gid of pid: the owner of its /proc
// directory, one stat call instead of reading status.
func (r *Reader) Owner(pid int) (uid, gid int, err error) {
	var st unix.Stat_t
	p := r.FS.pidPath(pid, "")
	if err := unix.Stat(p, &st); err != nil {
		return 0, 0, fileErr(p, err)
	}
	return int(st.Uid), int(st.Gid), nil
}

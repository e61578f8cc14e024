package supervise

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// maxSymlinks bounds the symbolic links followed while opening a PID
// file, as the kernel's own path walk does (ELOOP).
const maxSymlinks = 32

// maxPIDFileSize is as much of a PID file as is read: the pid is on its
// first line, and a file that is not small is not a PID file.
const maxPIDFileSize = 128

// pidFile is what reading a PID file found, with what decides whether a
// pid outside the unit's cgroup may be believed.
type pidFile struct {
	pid   int
	owner uint32 // owner of the file itself
	// safe is false when the path took an unsafe transition: from a
	// directory or symbolic link owned by a user other than root to an
	// object owned by someone else. Such a chain can be laid by that user
	// to make tend read a file he does not control.
	safe bool
}

// readPIDFile opens path one component at a time, never following a
// symbolic link blindly, and reads the pid in it. It refuses anything
// but a regular file, so a FIFO or device put in the file's place can
// neither block tend nor feed it endless data.
func readPIDFile(path string) (pidFile, error) {
	fd, safe, err := openChased(path)
	if err != nil {
		return pidFile{}, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return pidFile{}, err
	}
	buf := make([]byte, maxPIDFileSize+1)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return pidFile{}, err
	}
	pid, err := parsePID(buf[:n])
	if err != nil {
		return pidFile{}, fmt.Errorf("PID file %s: %w", path, err)
	}
	return pidFile{pid: pid, owner: st.Uid, safe: safe}, nil
}

// parsePID reads the pid on the first line of a PID file's content.
func parsePID(b []byte) (int, error) {
	if len(b) > maxPIDFileSize {
		return 0, errors.New("too long for a PID file")
	}
	line, _, _ := bytes.Cut(b, []byte{'\n'})
	s := strings.TrimSpace(string(line))
	if s == "" {
		return 0, errors.New("no pid in it")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a pid", s)
		}
	}
	pid, err := strconv.ParseInt(s, 10, 32)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%q is not a pid", s)
	}
	return int(pid), nil
}

// unsafeTransition reports whether stepping from an object owned by
// from to one owned by to leaves the control of a single user: stepping
// down from root is fine, staying with one user is fine, anything else
// lets the owner of from choose what tend reads.
func unsafeTransition(from, to uint32) bool { return from != 0 && from != to }

// openChased resolves path from / as the kernel would, but by hand:
// each component is opened with O_PATH|O_NOFOLLOW and its owner
// compared with the previous step's, symbolic links are read and
// followed explicitly, and only a regular file at the end is opened for
// reading (opening a device can have effects of its own). safe reports
// whether no step was an unsafe transition.
func openChased(path string) (fd int, safe bool, err error) {
	if !filepath.IsAbs(path) {
		return -1, false, fmt.Errorf("PID file %s: not an absolute path", path)
	}
	c := chase{fd: -1, safe: true}
	defer c.close()
	fd, err = c.walk(path)
	if err != nil {
		return -1, false, fmt.Errorf("cannot open PID file %s: %w", path, err)
	}
	return fd, c.safe, nil
}

// chase is the state of openChased's walk.
type chase struct {
	fd    int    // O_PATH descriptor of the current directory
	owner uint32 // owner of the last object stepped through
	safe  bool
	links int
}

func (c *chase) close() {
	if c.fd >= 0 {
		unix.Close(c.fd)
	}
}

// note records a step to an object owned by uid.
func (c *chase) note(uid uint32) {
	if unsafeTransition(c.owner, uid) {
		c.safe = false
	}
	c.owner = uid
}

// enter makes fd, whose stat is st, the current directory.
func (c *chase) enter(fd int, st *unix.Stat_t) {
	c.note(st.Uid)
	if c.fd >= 0 {
		unix.Close(c.fd)
	}
	c.fd = fd
}

func (c *chase) openAt(name string) (int, unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := unix.Openat(c.fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, st, err
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, st, err
	}
	return fd, st, nil
}

// root restarts the walk at /: the first time, and for a symbolic link
// with an absolute target.
func (c *chase) root() error {
	first := c.fd < 0
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return err
	}
	if first {
		c.owner = st.Uid
	}
	c.enter(fd, &st)
	return nil
}

// walk returns a readable descriptor of the regular file path names.
func (c *chase) walk(path string) (int, error) {
	if err := c.root(); err != nil {
		return -1, err
	}
	todo := strings.Split(path, "/")
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		if name == "" || name == "." {
			continue
		}
		fd, st, err := c.openAt(name)
		if err != nil {
			return -1, err
		}
		switch {
		case st.Mode&unix.S_IFMT == unix.S_IFLNK:
			// The link is a step of its own (its owner chose the
			// target); then its target is walked from here or from /.
			target, err := readlinkFD(fd)
			unix.Close(fd)
			if err != nil {
				return -1, err
			}
			if c.links++; c.links > maxSymlinks {
				return -1, unix.ELOOP
			}
			c.note(st.Uid)
			if strings.HasPrefix(target, "/") {
				if err := c.root(); err != nil {
					return -1, err
				}
			}
			todo = append(strings.Split(target, "/"), todo...)
		case len(todo) == 0 && st.Mode&unix.S_IFMT == unix.S_IFREG:
			defer unix.Close(fd)
			c.note(st.Uid)
			return c.reopen(name, &st)
		default:
			c.enter(fd, &st)
		}
	}
	return -1, errors.New("not a regular file")
}

// reopen opens the checked regular file name for reading: O_PATH
// descriptors cannot be read. It must still be the same file.
func (c *chase) reopen(name string, want *unix.Stat_t) (int, error) {
	fd, err := unix.Openat(c.fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Dev != want.Dev || st.Ino != want.Ino {
		unix.Close(fd)
		return -1, errors.New("it changed while it was opened")
	}
	return fd, nil
}

// readlinkFD reads the target of the symbolic link opened (O_PATH |
// O_NOFOLLOW) as fd, so the link read is the one that was checked.
func readlinkFD(fd int) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", err
	}
	if n >= len(buf) {
		return "", unix.ENAMETOOLONG
	}
	if n == 0 {
		return "", unix.ENOENT
	}
	return string(buf[:n]), nil
}

package inspect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/tendproject/tend/internal/procfs"
)

// OpenFile is one open file of a process, as tend fds shows it.
type OpenFile struct {
	FD     string `json:"fd"`   // number, or "cwd", "rtd", "txt"
	Mode   string `json:"mode"` // "r", "w", "u" (read and write), "" when unknown
	Type   string `json:"type"` // REG, DIR, CHR, BLK, FIFO, unix, IPv4, IPv6, sock, a_inode, …
	Inode  uint64 `json:"inode,omitempty"`
	Size   int64  `json:"size,omitempty"`
	Target string `json:"target"` // path, "pipe:[N]", or a socket's description
	// Socket details, when the fd is a socket sock_diag knows.
	Proto  string `json:"proto,omitempty"`
	Local  string `json:"local,omitempty"`
	Remote string `json:"remote,omitempty"`
	State  string `json:"state,omitempty"`
	Peer   *Peer  `json:"peer,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Peer is the process at the other end of a pipe or a local socket.
type Peer struct {
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
	Unit string `json:"unit,omitempty"`
	FD   int    `json:"fd"`
	// Role is what the descriptor is for when the peer is the tend
	// daemon ("journal: web.service stdout"), as the daemon reports it.
	Role string `json:"role,omitempty"`
}

func (p *Peer) String() string {
	s := p.Comm
	switch {
	case p.Role != "":
		s += " (" + p.Role + ")"
	case p.Unit != "" && p.Unit != p.Comm:
		s += " (" + p.Unit + ")"
	}
	return s + " pid " + strconv.Itoa(p.PID) + " fd " + strconv.Itoa(p.FD)
}

// FDList is the open files of one process.
type FDList struct {
	PID   int        `json:"pid"`
	Comm  string     `json:"comm"`
	Unit  string     `json:"unit,omitempty"`
	Files []OpenFile `json:"files"`
}

// FDs lists the open files of pid with socket details and, for pipes and
// local sockets, the process at the other end.
func FDs(ctx context.Context, c *Collector, pid int) (*FDList, error) {
	lists, err := fdLists(ctx, c, []int{pid})
	if err != nil {
		return nil, err
	}
	return lists[0], nil
}

// FDsOfUnit lists the open files of every process of unit.
func FDsOfUnit(ctx context.Context, c *Collector, unit string) ([]*FDList, error) {
	snap, err := c.Snapshot(ctx, NeedCgroup, nil)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, p := range snap.Procs {
		if p.Unit == unit {
			pids = append(pids, p.PID)
		}
	}
	if len(pids) == 0 {
		return nil, fmt.Errorf("no processes in unit %s (not loaded or not running)", unit)
	}
	return fdLists(ctx, c, pids)
}

func fdLists(ctx context.Context, c *Collector, pids []int) ([]*FDList, error) {
	// The socket tables are dumped while the descriptors are read: most
	// processes have a socket, and the dump costs as much as reading a
	// few hundred descriptors.
	dumped := make(chan *Sockets, 1)
	go func() {
		s, err := ReadSockets()
		if err != nil {
			s = &Sockets{} // no sock_diag in a restricted sandbox: show inodes only
		}
		dumped <- s
	}()
	r := c.FS.NewReader()
	fds := make([][]procfs.FD, len(pids))
	for i, pid := range pids {
		var err error
		if fds[i], err = r.FDs(pid); err != nil && !errors.Is(err, fs.ErrPermission) {
			<-dumped
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("no such process: %d", pid)
			}
			return nil, err
		}
	}
	socks := <-dumped
	res := newPeerResolver(ctx, c, socks)
	var lists []*FDList
	for i, pid := range pids {
		l, err := fdList(r, c, pid, fds[i], socks, res)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("no such process: %d", pid)
			}
			return nil, err
		}
		lists = append(lists, l)
	}
	res.resolve(r)
	return lists, nil
}

// fdList describes pid's descriptors fds (nil when they were unreadable).
func fdList(r *procfs.Reader, c *Collector, pid int, fds []procfs.FD, socks *Sockets, res *peerResolver) (*FDList, error) {
	st, err := r.Stat(pid)
	if err != nil {
		return nil, err
	}
	l := &FDList{PID: pid, Comm: st.Comm}
	res.first = append(res.first, st.PPID)
	res.lists = append(res.lists, l)
	if cg, err := r.MainCgroup(pid); err == nil {
		l.Unit = UnitFromCgroup(cg)
	}
	for _, name := range []string{"cwd", "rtd", "txt"} {
		link := map[string]string{"cwd": "cwd", "rtd": "root", "txt": "exe"}[name]
		p := c.FS.Path(strconv.Itoa(pid), link)
		if t, err := os.Readlink(p); err == nil {
			of := OpenFile{FD: name, Target: t}
			if fi, err := os.Stat(p); err == nil {
				of.Type = "REG"
				if fi.IsDir() {
					of.Type = "DIR"
				}
			}
			l.Files = append(l.Files, of)
		}
	}
	if fds == nil {
		l.Files = append(l.Files, OpenFile{FD: "?", Error: "permission denied: open files unreadable"})
		return l, nil
	}
	for i := range fds {
		l.Files = append(l.Files, describe(&fds[i], pid, socks, res, l))
	}
	return l, nil
}

// describe turns one fd into a row and registers what needs a peer.
func describe(fd *procfs.FD, pid int, socks *Sockets, res *peerResolver, l *FDList) OpenFile {
	of := OpenFile{FD: strconv.Itoa(fd.Num), Target: fd.Target, Type: fd.Kind(), Inode: fd.Inode, Mode: accessMode(fd.Read, fd.Write)}
	if fd.Err != nil {
		of.Error = fd.Err.Error()
		return of
	}
	if of.Type == "REG" {
		of.Size = fd.Size
	}
	kind, ino, ok := fd.LinkInode()
	if !ok {
		return of
	}
	of.Inode = ino
	idx := len(l.Files)
	switch kind {
	case "pipe":
		res.want(ino, pid, fd.Num, of.Mode, l, idx)
	case "socket":
		if u, ok := socks.Unix[ino]; ok {
			of.Type, of.Proto, of.State, of.Local = "unix", "unix/"+u.Type, u.State, u.Path
			of.Target = "unix " + u.Type
			if u.Path != "" {
				of.Target += " " + u.Path
			}
			if u.State != "" {
				of.Target += " (" + u.State + ")"
			}
			if u.Peer != 0 {
				res.want(u.Peer, pid, fd.Num, "", l, idx)
			}
		} else if in, ok := socks.Inet[ino]; ok {
			of.Type = "IPv4"
			if strings.HasSuffix(in.Proto, "6") {
				of.Type = "IPv6"
			}
			of.Proto, of.State, of.Local = strings.ToUpper(strings.TrimSuffix(in.Proto, "6")), in.State, in.Local.String()
			of.Target = of.Proto + " " + of.Local
			if in.Remote.Port() != 0 {
				of.Remote = in.Remote.String()
				of.Target += "->" + of.Remote
				if peer, ok := socks.localPeer(in); ok {
					res.want(peer, pid, fd.Num, "", l, idx)
				}
			}
			if of.State != "" {
				of.Target += " (" + of.State + ")"
			}
		} else {
			of.Type = "sock"
		}
	}
	return of
}

// accessMode is lsof's access letter: "r", "w", "u" (both), or "".
func accessMode(read, write bool) string {
	switch {
	case read && write:
		return "u"
	case read:
		return "r"
	case write:
		return "w"
	}
	return ""
}

// localPeer finds the inode of the other end of a connection within this
// machine (both addresses local, as for loopback).
func (s *Sockets) localPeer(in InetSocket) (uint64, bool) {
	if !in.Remote.Addr().IsLoopback() {
		return 0, false
	}
	for ino, o := range s.Inet {
		if o.Proto == in.Proto && o.Local == in.Remote && o.Remote == in.Local {
			return ino, true
		}
	}
	return 0, false
}

// WriteFDs prints lists like lsof -p: FD, mode, type, inode, target, and
// the peer after an arrow.
func WriteFDs(w io.Writer, lists []*FDList) error {
	var cells [][]string
	cells = append(cells, []string{"PID", "COMMAND", "FD", "MODE", "TYPE", "INODE", "TARGET"})
	for _, l := range lists {
		for _, f := range l.Files {
			ino := ""
			if f.Inode != 0 {
				ino = strconv.FormatUint(f.Inode, 10)
			}
			target := f.Target
			if f.Peer != nil {
				target += " → " + f.Peer.String()
			}
			if f.Error != "" {
				target += " [" + f.Error + "]"
			}
			cells = append(cells, []string{strconv.Itoa(l.PID), l.Comm, f.FD, dash(f.Mode), dash(f.Type), dash(ino), target})
		}
	}
	return writeAligned(w, cells, []bool{true, false, true, false, false, true, false})
}

// WriteFDsJSON prints lists as JSON.
func WriteFDsJSON(w io.Writer, lists []*FDList) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // STAT letters such as "S<" stay readable
	return enc.Encode(lists)
}

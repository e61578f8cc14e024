package inspect

import (
	"context"
	"strconv"
	"strings"

	"github.com/tendproject/tend/internal/procfs"
)

// peerResolver finds which process holds a socket or pipe inode. The
// kernel has no inode → process index, so, like ss -p and lsof, it scans
// the fd links of processes; it looks at the asking processes and their
// parents first (where the other end of a pipe usually is) and stops as
// soon as every wanted inode has a holder. The first holder other than
// the asking fd itself is the answer — for a pipe, the first that holds
// the other end: a reader's peer opened the pipe for writing, a writer's
// for reading (other writers, such as a parent that kept its copy, are
// not the other end). A pipe both of whose ends one process holds
// resolves to that process.
type peerResolver struct {
	ctx    context.Context // the listing's: bounds the question to the daemon
	c      *Collector
	socks  *Sockets
	wanted map[uint64][]peerWant
	first  []int     // pids to scan before the rest: the askers' parents
	lists  []*FDList // the askers' own descriptors
	self   selfRoles // the daemon's descriptor roles, asked for lazily
}

type peerWant struct {
	self int
	fd   int
	mode string // the asker's access mode ("r", "w", "u") for a pipe; "" for a socket
	list *FDList
	idx  int
}

func newPeerResolver(ctx context.Context, c *Collector, socks *Sockets) *peerResolver {
	return &peerResolver{ctx: ctx, c: c, socks: socks, wanted: map[uint64][]peerWant{}}
}

// want asks for the holder of inode ino other than fd of self, for row
// idx of list; mode is the asker's access mode when ino is a pipe's.
func (r *peerResolver) want(ino uint64, self, fd int, mode string, list *FDList, idx int) {
	r.wanted[ino] = append(r.wanted[ino], peerWant{self: self, fd: fd, mode: mode, list: list, idx: idx})
}

// otherEnd reports whether a holder with access mode has the end of a
// pipe opposite to an asker with mode want ("" and "u" match any).
func otherEnd(want, mode string) bool {
	switch want {
	case "r":
		return mode == "w" || mode == "u"
	case "w":
		return mode == "r" || mode == "u"
	}
	return true
}

func (r *peerResolver) resolve(rd *procfs.Reader) {
	if len(r.wanted) == 0 {
		return
	}
	left := len(r.wanted)
	done := map[uint64]bool{}
	seen := map[int]bool{}
	// The askers' own descriptors are already read: offer them first.
	for _, l := range r.lists {
		seen[l.PID] = true
		for _, f := range l.Files {
			fd, err := strconv.Atoi(f.FD)
			if err != nil || f.Inode == 0 || done[f.Inode] || r.wanted[f.Inode] == nil {
				continue
			}
			if r.offer(f.Inode, f.Mode, l.PID, fd, func() *Peer { return r.peer(l.PID, l.Comm, l.Unit, fd) }) {
				done[f.Inode] = true
				left--
			}
		}
	}
	scan := func(pids []int) {
		for _, pid := range pids {
			if left == 0 {
				return
			}
			if seen[pid] {
				continue
			}
			seen[pid] = true
			var comm, unit string
			_ = rd.FDTargets(pid, func(fd int, target string) {
				_, ino, ok := procfs.ParseLinkInode(target)
				if !ok || done[ino] {
					return
				}
				if _, ok := r.wanted[ino]; !ok {
					return
				}
				mode := ""
				if strings.HasPrefix(target, "pipe:") {
					canRead, canWrite, err := rd.FDAccess(pid, fd)
					if err != nil {
						return // closed meanwhile
					}
					mode = accessMode(canRead, canWrite)
				}
				peer := func() *Peer {
					if comm == "" {
						comm, unit = r.label(rd, pid)
					}
					return r.peer(pid, comm, unit, fd)
				}
				if r.offer(ino, mode, pid, fd, peer) {
					done[ino] = true
					left--
				}
			})
		}
	}
	// Listing every pid costs as much as reading a thousand fd links, so
	// it waits until the parents turn out not to hold every other end.
	scan(r.first)
	if left == 0 {
		return
	}
	all, err := r.c.FS.PIDs()
	if err != nil {
		return
	}
	scan(all)
}

// offer gives holder fd of pid, which opened ino with access mode, to
// every asker that is not that fd itself, has no peer yet and, for a
// pipe, holds the other end; it reports whether all askers of ino now have
// one. The holder's Peer is made only once some asker takes it: making it
// may ask the daemon for its descriptor roles, and a holder no asker takes
// (another writer of the same pipe, a forked copy of the asker's end) must
// not cost that question.
func (r *peerResolver) offer(ino uint64, mode string, pid, fd int, peer func() *Peer) bool {
	var p *Peer
	all := true
	for _, w := range r.wanted[ino] {
		f := &w.list.Files[w.idx]
		if f.Peer == nil && (w.self != pid || w.fd != fd) && otherEnd(w.mode, mode) {
			if p == nil {
				p = peer()
			}
			f.Peer = p
		}
		all = all && f.Peer != nil
	}
	return all
}

func (r *peerResolver) label(rd *procfs.Reader, pid int) (comm, unit string) {
	comm, err := rd.Comm(pid)
	if err != nil {
		comm = "?"
	}
	if cg, err := rd.MainCgroup(pid); err == nil {
		unit = UnitFromCgroup(cg)
	}
	if unit == "" && comm == "tend" {
		unit = SelfLabel
	}
	return comm, unit
}

package reaper

import (
	"strconv"

	"github.com/tendproject/tend/internal/fdrole"
)

// FDs names the descriptors the reaper holds, for `tend fds`: the epoll
// set of its children's pidfds, those pidfds, and the pidfds of watched
// processes that are not its children.
func (r *Reaper) FDs() map[int]string {
	roles := fdrole.Roles{}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return roles
	}
	if r.exits != nil {
		roles.Add(r.exits.f, "reaper: child pidfds (epoll)")
	}
	// Both kinds are closed only under mu, so these numbers are theirs.
	for pid, fd := range r.children {
		roles[fd] = "reaper: pidfd of child " + strconv.Itoa(pid)
	}
	for pid, f := range r.pidfds {
		roles.Add(f, "reaper: pidfd of pid "+strconv.Itoa(pid))
	}
	return roles
}

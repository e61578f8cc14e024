// Package fdrole names the daemon's own descriptors by what they are for
// ("notify socket", "api connection"), so that `tend fds` can say which
// part of tend holds the other end of a pipe or socket rather than only
// "tend". Each part that owns descriptors reports them; the daemon merges
// the reports.
package fdrole

import "syscall"

// Roles maps descriptor numbers of this process to their roles.
type Roles map[int]string

// Add records the descriptor behind c (a network connection or listener,
// an *os.File) under role. A closed one is left out: its number may
// already belong to another file.
func (r Roles) Add(c syscall.Conn, role string) {
	if c == nil {
		return
	}
	raw, err := c.SyscallConn()
	if err != nil {
		return
	}
	// Control holds a reference on the descriptor, so the number it sees
	// is c's for as long as c is open.
	_ = raw.Control(func(fd uintptr) { r[int(fd)] = role })
}

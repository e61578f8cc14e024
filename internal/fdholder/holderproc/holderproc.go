// Package holderproc is the fd holder process (package fdholder has the
// protocol and tend's client): Fork starts it as a fork of tend that
// never returns to the Go runtime, since a Go process costs a few MiB
// however little it does, and the holder runs as long as tend.
package holderproc

import (
	"errors"
	"syscall"
	"time"
)

// Limits bound the holder whatever a client sends.
const (
	MaxName    = 512  // bytes of a name
	MaxEntries = 8192 // descriptors held at once
	MsgMax     = 1 + MaxName
	// BatchFDs and BatchMax bound one 'G' message (a batched list): the
	// kernel passes at most 253 descriptors in one SCM_RIGHTS message.
	BatchFDs = 250
	BatchMax = 1 + BatchFDs*(2+MaxName)
)

// sendTimeout bounds how long one client that stops reading (a stopped
// tend) can hold up the others: the holder serves all from one thread.
const sendTimeout = 5 // seconds

// ErrNoFork: Fork is not built for this architecture.
var ErrNoFork = errors.New("fd holder: not built for this architecture")

// ParseFDs returns the descriptors a message carried.
func ParseFDs(oob []byte) []int {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if r, err := syscall.ParseUnixRights(&m); err == nil {
			fds = append(fds, r...)
		}
	}
	return fds
}

// CloseFDs closes fds.
func CloseFDs(fds []int) {
	for _, fd := range fds {
		syscall.Close(fd)
	}
}

// GraceMS is a grace period as the holder takes it: whole milliseconds,
// rounded up; 0 (none: the holder waits for ever) for d <= 0.
func GraceMS(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64((d + time.Millisecond - 1) / time.Millisecond)
}

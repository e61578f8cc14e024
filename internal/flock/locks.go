package flock

import (
	"bytes"
	"strconv"
	"strings"
)

// holderIn finds, in the text of /proc/locks, the pid of the granted
// FLOCK lock on the inode (major:minor:ino); 0 if there is none. Lines
// look like
//
//	1: FLOCK  ADVISORY  WRITE 1234 00:26:3198 0 EOF
//	1: -> FLOCK  ADVISORY  WRITE 1240 00:26:3198 0 EOF
//
// where "->" marks a waiter, not a holder, and the device numbers are hex.
func holderIn(locks []byte, major, minor uint32, ino uint64) int {
	for len(locks) > 0 {
		line := locks
		if i := bytes.IndexByte(locks, '\n'); i >= 0 {
			line, locks = locks[:i], locks[i+1:]
		} else {
			locks = nil
		}
		f := strings.Fields(string(line))
		if len(f) < 6 || f[1] != "FLOCK" {
			continue // a waiter ("->"), a POSIX or OFD lock, or garbage
		}
		pid, err := strconv.Atoi(f[4])
		if err != nil || pid <= 0 {
			continue
		}
		if ma, mi, in, ok := parseInode(f[5]); ok && ma == major && mi == minor && in == ino {
			return pid
		}
	}
	return 0
}

// parseInode parses "MAJ:MIN:INO" with hex device numbers.
func parseInode(s string) (major, minor uint32, ino uint64, ok bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return 0, 0, 0, false
	}
	ma, err1 := strconv.ParseUint(parts[0], 16, 32)
	mi, err2 := strconv.ParseUint(parts[1], 16, 32)
	in, err3 := strconv.ParseUint(parts[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, 0, false
	}
	return uint32(ma), uint32(mi), in, true
}

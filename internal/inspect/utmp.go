package inspect

import (
	"encoding/binary"
	"os"
)

// countUsers counts USER_PROCESS records in a utmp file (the glibc layout:
// 384-byte records starting with a 16-bit type). Unreadable means 0.
func countUsers(path string) int {
	if path == "" {
		return 0
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	const recSize, userProcess = 384, 7
	n := 0
	for off := 0; off+recSize <= len(b); off += recSize {
		if binary.NativeEndian.Uint16(b[off:]) == userProcess && b[off+44] != 0 {
			n++
		}
	}
	return n
}

package clockwatch

import "unsafe"

// unsafePointer reads an inotify event header in place; the kernel
// aligns them.
func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(&b[0]) }

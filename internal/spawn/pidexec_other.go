//go:build !amd64

package spawn

// No trampoline for this architecture: the exec helper sets the pid
// variables.
const trampolineMachine = 0

var trampolineCode []byte

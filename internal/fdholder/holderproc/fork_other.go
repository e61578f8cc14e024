//go:build !(linux && (amd64 || arm64 || riscv64 || ppc64le || loong64))

package holderproc

// Fork is not there on this architecture: tend starts `tend fdholder`
// (Main) instead.
func Fork(int) (int, error) { return 0, ErrNoFork }

//go:build !(linux && (amd64 || arm64 || riscv64 || ppc64le || loong64))

package holderproc

import "time"

// Fork is not built for this architecture: tend runs without a holder.
func Fork(ln, uid int, grace time.Duration) (int, error) { return 0, ErrNoFork }

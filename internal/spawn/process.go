package spawn

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/unit"
)

// procInstr is the helper's share of unit.ProcContext, resolved to the
// numbers the system calls take.
type procInstr struct {
	SIGPIPEDefault bool
	CPUs           []int
	NUMAMode       int // -1 = unset
	NUMAMask       []int
	IOPrio         int // -1 = unset
	SchedPolicy    int // -1 = unset
	SchedPriority  int
	Personality    int // -1 = unset
	SecureBits     int // -1 = unset
}

var (
	numaModes   = map[string]int{"default": 0, "preferred": 1, "bind": 2, "interleave": 3, "local": 4}
	ioClasses   = map[string]int{"realtime": 1, "best-effort": 2, "idle": 3}
	schedPolicy = map[string]int{"other": 0, "fifo": 1, "rr": 2, "batch": 3, "idle": 5}
	secureBits  = map[string]int{"noroot": 0, "noroot-locked": 1, "no-setuid-fixup": 2,
		"no-setuid-fixup-locked": 3, "keep-caps": 4, "keep-caps-locked": 5}
)

const (
	perLinux         = 0x0000
	perLinux32       = 0x0008
	schedResetOnFork = 0x40000000
	ioprioClassShift = 13
)

// archPersonalities maps Go's GOARCH to systemd's names for the native
// architecture and the 32-bit one it can also run, for Personality=.
var archPersonalities = map[string][2]string{
	"amd64": {"x86-64", "x86"}, "386": {"x86", ""}, "arm64": {"arm64", "arm"}, "arm": {"arm", ""},
	"ppc64le": {"ppc64-le", ""}, "ppc64": {"ppc64", "ppc"}, "s390x": {"s390x", "s390"},
}

// resolveProc turns p into helper instructions, refusing what this
// machine cannot do at all (a personality of another architecture).
func resolveProc(p *unit.ProcContext, path string) (*procInstr, error) {
	if !p.Set() {
		return nil, nil
	}
	in := &procInstr{SIGPIPEDefault: p.SIGPIPEDefault, CPUs: p.CPUAffinity, NUMAMode: -1, NUMAMask: p.NUMAMask,
		IOPrio: -1, SchedPolicy: -1, Personality: -1, SecureBits: -1}
	if m, ok := numaModes[p.NUMAPolicy]; ok {
		in.NUMAMode = m
	}
	if p.IOSchedulingClass != "" || p.IOSchedulingPriority != nil {
		class, prio := ioClasses["best-effort"], 4
		if c, ok := ioClasses[p.IOSchedulingClass]; ok {
			class = c
		}
		if p.IOSchedulingPriority != nil {
			prio = *p.IOSchedulingPriority
		}
		if class == ioClasses["idle"] {
			prio = 0
		}
		in.IOPrio = class<<ioprioClassShift | prio
	}
	if p.CPUSchedulingPolicy != "" || p.CPUSchedulingPriority != nil || p.CPUSchedulingResetOnFork {
		in.SchedPolicy = schedPolicy[p.CPUSchedulingPolicy] // "" = other
		if p.CPUSchedulingPriority != nil {
			in.SchedPriority = *p.CPUSchedulingPriority
		}
		realtime := in.SchedPolicy == schedPolicy["fifo"] || in.SchedPolicy == schedPolicy["rr"]
		switch {
		case realtime && in.SchedPriority == 0:
			in.SchedPriority = 1 // the lowest real-time priority
		case !realtime:
			in.SchedPriority = 0 // other policies take no priority
		}
		if p.CPUSchedulingResetOnFork {
			in.SchedPolicy |= schedResetOnFork
		}
	}
	archs := archPersonalities[runtime.GOARCH]
	switch p.Personality {
	case "":
	case archs[0]:
		in.Personality = perLinux
	case archs[1]:
		in.Personality = perLinux32
	default:
		return nil, setupErr(ExitPersonality, path, fmt.Errorf("Personality=%s: this machine runs %s", p.Personality, archs[0]))
	}
	if len(p.SecureBits) > 0 {
		in.SecureBits = 0
		for _, b := range p.SecureBits {
			in.SecureBits |= 1 << secureBits[b]
		}
	}
	return in, nil
}

// applyProc performs the process settings in the helper, before the
// credentials are dropped (real-time scheduling and secure bits need
// privilege).
func applyProc(in *procInstr) (int, string, error) {
	if in == nil {
		return 0, "", nil
	}
	if len(in.CPUs) > 0 {
		var set unix.CPUSet
		for _, c := range in.CPUs {
			set.Set(c)
		}
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			return ExitCPUAffinity, "set CPUAffinity=", err
		}
	}
	if in.NUMAMode >= 0 {
		if err := setMempolicy(in.NUMAMode, in.NUMAMask); err != nil {
			if !errors.Is(err, syscall.ENOSYS) && !errors.Is(err, syscall.EOPNOTSUPP) {
				return ExitNUMAPolicy, "set NUMAPolicy=", err
			}
			fmt.Fprintln(os.Stderr, "tend: NUMAPolicy= not applied: this kernel has no NUMA support")
		}
	}
	if in.IOPrio >= 0 {
		const whoProcess = 1
		if _, _, e := unix.RawSyscall(unix.SYS_IOPRIO_SET, whoProcess, 0, uintptr(in.IOPrio)); e != 0 {
			return ExitIOPrio, "set IOSchedulingClass=/IOSchedulingPriority=", e
		}
	}
	if in.SchedPolicy >= 0 {
		param := struct{ priority int32 }{int32(in.SchedPriority)}
		if _, _, e := unix.RawSyscall(unix.SYS_SCHED_SETSCHEDULER, 0, uintptr(in.SchedPolicy), uintptr(unsafe.Pointer(&param))); e != 0 {
			return ExitSetScheduler, "set CPUSchedulingPolicy=", e
		}
	}
	if in.Personality >= 0 {
		if _, _, e := unix.RawSyscall(unix.SYS_PERSONALITY, uintptr(in.Personality), 0, 0); e != 0 {
			return ExitPersonality, "set Personality=", e
		}
	}
	if in.SecureBits >= 0 {
		if err := unix.Prctl(unix.PR_SET_SECUREBITS, uintptr(in.SecureBits), 0, 0, 0); err != nil {
			return ExitSecureBits, "set SecureBits=", err
		}
	}
	return 0, "", nil
}

// setMempolicy is set_mempolicy(2) with a node mask built from nodes.
func setMempolicy(mode int, nodes []int) error {
	var mask []uint64
	for _, n := range nodes {
		for len(mask) <= n/64 {
			mask = append(mask, 0)
		}
		mask[n/64] |= 1 << (n % 64)
	}
	var ptr, maxNode uintptr
	if len(mask) > 0 {
		ptr, maxNode = uintptr(unsafe.Pointer(&mask[0])), uintptr(len(mask)*64+1)
	}
	_, _, e := unix.RawSyscall(unix.SYS_SET_MEMPOLICY, uintptr(mode), ptr, maxNode)
	runtime.KeepAlive(mask)
	if e != 0 {
		return e
	}
	return nil
}

// ignoreSIGPIPE sets SIGPIPE's action to "ignore", which exec keeps
// (IgnoreSIGPIPE=yes, the default).
func ignoreSIGPIPE() {
	act := [4]uint64{1} // sa_handler = SIG_IGN
	_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGPIPE), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
}

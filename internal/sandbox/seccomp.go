package sandbox

import (
	"fmt"
	"sort"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Program is one seccomp BPF program, ready for
// prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER).
type Program []unix.SockFilter

// Seccomp builds the seccomp programs c asks for, in the order they are
// to be loaded. Every program is built here, in tend, so that a bad
// filter is a start failure with a reason rather than a dead child.
func Seccomp(c *Config) ([]Program, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	var policies []seccomp.Policy
	add := func(p *seccomp.Policy) {
		if p != nil && len(p.Syscalls) > 0 {
			policies = append(policies, *p)
		}
	}
	add(syscallFilter(c, info))
	add(denyCalls(info, eperm, c.ProtectClock, "@clock"))
	add(denyCalls(info, eperm, c.ProtectKernelModules, "@module"))
	add(denyCalls(info, eperm, c.ProtectKernelLogs, "syslog"))
	add(denyCalls(info, eperm, c.ProtectHostname, "sethostname", "setdomainname"))
	add(denyCalls(info, eperm, c.PrivateDevices, "@raw-io"))
	add(addressFamilies(c.RestrictAddressFamilies))
	add(namespaces(c.RestrictNamespaces))
	add(realtime(c.RestrictRealtime))
	add(suidSGID(c.RestrictSUIDSGID))
	add(personality(c.LockPersonality))
	add(writeExecute(c.MemoryDenyWriteExecute))
	var progs []Program
	if native(c.SystemCallArchitectures) {
		p, err := nativeOnly(info)
		if err != nil {
			return nil, err
		}
		progs = append(progs, p)
	}
	for i := range policies {
		insns, err := policies[i].Assemble()
		if err != nil {
			return nil, fmt.Errorf("seccomp: %w", err)
		}
		p, err := raw(withErrnoDefault(insns, policies[i].DefaultAction, c.SystemCallErrorNumber))
		if err != nil {
			return nil, err
		}
		progs = append(progs, p)
	}
	return progs, nil
}

// errnoDefault stands for "fail with SystemCallErrorNumber=" as a
// policy's default action, which the library accepts only as a bare
// action: TRACE, never used otherwise, is replaced after assembly.
const errnoDefault = seccomp.ActionTrace

func withErrnoDefault(insns []bpf.Instruction, deflt seccomp.Action, errno int) []bpf.Instruction {
	if deflt != errnoDefault {
		return insns
	}
	for i, in := range insns {
		if r, ok := in.(bpf.RetConstant); ok && r.Val == uint32(errnoDefault) {
			insns[i] = bpf.RetConstant{Val: uint32(action(errno))}
		}
	}
	return insns
}

func raw(insns []bpf.Instruction) (Program, error) {
	r, err := bpf.Assemble(insns)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	p := make(Program, len(r))
	for i, in := range r {
		p[i] = unix.SockFilter{Code: in.Op, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	return p, nil
}

func native(archs []string) bool {
	for _, a := range archs {
		if a == "native" {
			return true
		}
	}
	return false
}

// nativeOnly kills a process that calls the kernel through another
// architecture's ABI (SystemCallArchitectures=native).
func nativeOnly(info *arch.Info) (Program, error) {
	return raw([]bpf.Instruction{
		bpf.LoadAbsolute{Off: 4, Size: 4}, // seccomp_data.arch
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.ID), SkipTrue: 1},
		bpf.RetConstant{Val: uint32(seccomp.ActionKillProcess)},
		bpf.RetConstant{Val: uint32(seccomp.ActionAllow)},
	})
}

// action is the seccomp action of an errno setting (ErrnoKill: kill).
func action(errno int) seccomp.Action {
	if errno == ErrnoKill || errno == 0 {
		return seccomp.ActionKillProcess
	}
	return seccomp.ActionErrno | seccomp.Action(errno)
}

// known keeps the names this architecture has, sorted.
func known(info *arch.Info, names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if _, ok := info.SyscallNames[n]; ok && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// syscallFilter is SystemCallFilter=: an allow list fails everything
// else with the default action, a deny list fails what it names.
func syscallFilter(c *Config, info *arch.Info) *seccomp.Policy {
	f := c.SystemCallFilter
	if f == nil {
		return nil
	}
	deflt := action(c.SystemCallErrorNumber)
	byAction := map[seccomp.Action][]string{}
	var allowed []string
	for name, errno := range f.Calls {
		switch {
		case f.Allow && errno == 0:
			allowed = append(allowed, name)
		case errno == 0:
			byAction[deflt] = append(byAction[deflt], name)
		default:
			byAction[action(errno)] = append(byAction[action(errno)], name)
		}
	}
	p := &seccomp.Policy{DefaultAction: seccomp.ActionAllow}
	if f.Allow {
		p.DefaultAction = seccomp.ActionKillProcess
		if deflt != seccomp.ActionKillProcess {
			p.DefaultAction = errnoDefault
		}
	}
	acts := make([]seccomp.Action, 0, len(byAction))
	for a := range byAction {
		acts = append(acts, a)
	}
	sort.Slice(acts, func(i, j int) bool { return acts[i] < acts[j] })
	for _, a := range acts {
		if names := known(info, byAction[a]); len(names) > 0 {
			p.Syscalls = append(p.Syscalls, seccomp.SyscallGroup{Names: names, Action: a})
		}
	}
	if names := known(info, allowed); len(names) > 0 {
		p.Syscalls = append(p.Syscalls, seccomp.SyscallGroup{Names: names, Action: seccomp.ActionAllow})
	}
	if f.Allow && len(p.Syscalls) == 0 {
		// Nothing allowed at all: a group is required, so name a call
		// that fails with the default action like all others.
		p.Syscalls = []seccomp.SyscallGroup{{Names: []string{"execve"}, Action: deflt}}
	}
	return p
}

// denyCalls fails the named calls and groups with errno when on.
func denyCalls(info *arch.Info, errno int, on bool, names ...string) *seccomp.Policy {
	if !on {
		return nil
	}
	var calls []string
	for _, n := range names {
		sub, err := ExpandSyscalls(n)
		if err == nil {
			calls = append(calls, sub...)
		}
	}
	calls = known(info, calls)
	if len(calls) == 0 {
		return nil
	}
	return &seccomp.Policy{DefaultAction: seccomp.ActionAllow,
		Syscalls: []seccomp.SyscallGroup{{Names: calls, Action: seccomp.ActionErrno | seccomp.Action(errno)}}}
}

// cond is a one-condition argument check.
func cond(arg uint32, op seccomp.Operation, v uint64) seccomp.ArgumentConditions {
	return seccomp.ArgumentConditions{{Argument: arg, Operation: op, Value: v}}
}

func deny(errno int, calls ...seccomp.NameWithConditions) *seccomp.Policy {
	return &seccomp.Policy{DefaultAction: seccomp.ActionAllow, Syscalls: []seccomp.SyscallGroup{{
		NamesWithCondtions: calls, Action: seccomp.ActionErrno | seccomp.Action(errno)}}}
}

// addressFamilies is RestrictAddressFamilies=: socket(2) with a family
// not allowed fails with EAFNOSUPPORT.
func addressFamilies(f *FamilyList) *seccomp.Policy {
	if f == nil {
		return nil
	}
	p := &seccomp.Policy{DefaultAction: seccomp.ActionAllow}
	refuse := seccomp.ActionErrno | seccomp.Action(unix.EAFNOSUPPORT)
	if f.Allow {
		if len(f.Families) > 0 {
			var ok []seccomp.NameWithConditions
			for _, fam := range f.Families {
				ok = append(ok, seccomp.NameWithConditions{Name: "socket", Conditions: cond(0, seccomp.Equal, uint64(fam))})
			}
			p.Syscalls = append(p.Syscalls, seccomp.SyscallGroup{NamesWithCondtions: ok, Action: seccomp.ActionAllow})
		}
		p.Syscalls = append(p.Syscalls, seccomp.SyscallGroup{Names: []string{"socket"}, Action: refuse})
		return p
	}
	var bad []seccomp.NameWithConditions
	for _, fam := range f.Families {
		bad = append(bad, seccomp.NameWithConditions{Name: "socket", Conditions: cond(0, seccomp.Equal, uint64(fam))})
	}
	if len(bad) == 0 {
		return nil
	}
	p.Syscalls = append(p.Syscalls, seccomp.SyscallGroup{NamesWithCondtions: bad, Action: refuse})
	return p
}

// namespaceFlags are the CLONE_NEW* flags RestrictNamespaces= governs.
const namespaceFlags = unix.CLONE_NEWCGROUP | unix.CLONE_NEWIPC | unix.CLONE_NEWNET | unix.CLONE_NEWNS |
	unix.CLONE_NEWPID | unix.CLONE_NEWUSER | unix.CLONE_NEWUTS

// namespaces is RestrictNamespaces=: unshare(2), clone(2) and setns(2)
// asking for a namespace type not allowed fail with EPERM; clone3(2),
// whose flags a filter cannot see, fails with ENOSYS so that the C
// library falls back to clone(2).
func namespaces(allowed *uint64) *seccomp.Policy {
	if allowed == nil {
		return nil
	}
	bad := uint64(namespaceFlags) &^ *allowed
	if bad == 0 {
		return nil
	}
	p := deny(eperm,
		seccomp.NameWithConditions{Name: "unshare", Conditions: cond(0, seccomp.BitsSet, bad)},
		seccomp.NameWithConditions{Name: "clone", Conditions: cond(0, seccomp.BitsSet, bad)},
		seccomp.NameWithConditions{Name: "setns", Conditions: cond(1, seccomp.BitsSet, bad)},
		seccomp.NameWithConditions{Name: "setns", Conditions: cond(1, seccomp.Equal, 0)})
	p.Syscalls = append(p.Syscalls, seccomp.SyscallGroup{Names: []string{"clone3"}, Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS)})
	return p
}

// realtime is RestrictRealtime=: no real-time scheduling policy.
func realtime(on bool) *seccomp.Policy {
	if !on {
		return nil
	}
	var calls []seccomp.NameWithConditions
	for _, pol := range []uint64{unix.SCHED_FIFO, unix.SCHED_RR, 6 /* SCHED_DEADLINE */} {
		calls = append(calls, seccomp.NameWithConditions{Name: "sched_setscheduler", Conditions: cond(1, seccomp.Equal, pol)})
	}
	p := deny(eperm, calls...)
	// sched_setattr passes the policy in a structure a filter cannot read.
	p.Syscalls = append(p.Syscalls, seccomp.SyscallGroup{Names: []string{"sched_setattr"}, Action: seccomp.ActionErrno | seccomp.Action(eperm)})
	return p
}

// suidSGID is RestrictSUIDSGID=: no setting the set-user/group-ID bits
// by chmod or by creating a file with them.
func suidSGID(on bool) *seccomp.Policy {
	if !on {
		return nil
	}
	const bits = unix.S_ISUID | unix.S_ISGID
	withMode := func(name string, modeArg, flagsArg uint32) seccomp.NameWithConditions {
		c := seccomp.ArgumentConditions{{Argument: modeArg, Operation: seccomp.BitsSet, Value: bits}}
		if flagsArg < 6 {
			c = append(c, seccomp.Condition{Argument: flagsArg, Operation: seccomp.BitsSet, Value: unix.O_CREAT | unix.O_TMPFILE})
		}
		return seccomp.NameWithConditions{Name: name, Conditions: c}
	}
	return deny(eperm,
		withMode("chmod", 1, 6), withMode("fchmod", 1, 6), withMode("fchmodat", 2, 6),
		withMode("mkdir", 1, 6), withMode("mkdirat", 2, 6), withMode("mknod", 1, 6), withMode("mknodat", 2, 6),
		withMode("creat", 1, 6), withMode("open", 2, 1), withMode("openat", 3, 2))
}

// personality is LockPersonality=: the execution domain stays as it is
// (querying it with 0xffffffff still works).
func personality(on bool) *seccomp.Policy {
	if !on {
		return nil
	}
	cur, _, err := unix.Syscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	if err != 0 {
		cur = 0
	}
	return deny(eperm, seccomp.NameWithConditions{Name: "personality", Conditions: seccomp.ArgumentConditions{
		{Argument: 0, Operation: seccomp.NotEqual, Value: uint64(cur)},
		{Argument: 0, Operation: seccomp.NotEqual, Value: 0xffffffff}}})
}

// writeExecute is MemoryDenyWriteExecute=: no mapping both writable and
// executable, no making memory executable afterwards.
func writeExecute(on bool) *seccomp.Policy {
	if !on {
		return nil
	}
	return deny(eperm,
		seccomp.NameWithConditions{Name: "mmap", Conditions: seccomp.ArgumentConditions{
			{Argument: 2, Operation: seccomp.BitsSet, Value: unix.PROT_WRITE},
			{Argument: 2, Operation: seccomp.BitsSet, Value: unix.PROT_EXEC}}},
		seccomp.NameWithConditions{Name: "mprotect", Conditions: cond(2, seccomp.BitsSet, unix.PROT_EXEC)},
		seccomp.NameWithConditions{Name: "pkey_mprotect", Conditions: cond(2, seccomp.BitsSet, unix.PROT_EXEC)},
		seccomp.NameWithConditions{Name: "shmat", Conditions: cond(2, seccomp.BitsSet, 0o100000 /* SHM_EXEC */)})
}

// knownSyscalls is @known: every call this architecture has.
func knownSyscalls() []string {
	info, err := arch.GetInfo("")
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(info.SyscallNames))
	for n := range info.SyscallNames {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

const eperm = int(unix.EPERM)

package spawn

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// apply performs the helper's instructions in the order that keeps
// privileges as long as they are needed: cgroup join, OOM score and
// limits (raising needs root), nice, umask, chroot, then dropping
// credentials, then the working directory (checked as the target user).
// It returns the EXIT_* status and step description of a failure.
func apply(in *instructions) (int, string, error) {
	for _, f := range in.Join {
		if err := os.WriteFile(f, []byte("0"), 0); err != nil {
			return ExitCgroup, "join " + f, err
		}
	}
	if in.OOMScore != nil {
		err := os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*in.OOMScore)), 0)
		// As systemd: a refusal for lack of privilege means a container
		// that may not lower the score; the service runs with the one it
		// inherited (Debian's dbus.service asks for -900).
		if err != nil && !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EPERM) {
			return ExitOOMAdjust, "set oom_score_adj", err
		}
	}
	for _, l := range in.Limits {
		// syscall.Setrlimit (not x/sys/unix) so the Go runtime does not
		// restore its saved RLIMIT_NOFILE on exec.
		if err := syscall.Setrlimit(l.Resource, &syscall.Rlimit{Cur: l.Soft, Max: l.Hard}); err != nil {
			return ExitLimits, fmt.Sprintf("set Limit%s=", l.Name), err
		}
	}
	if in.Nice != nil {
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, 0, *in.Nice); err != nil {
			return ExitNice, "set nice", err
		}
	}
	syscall.Umask(int(in.UMask))
	if sb := in.Sandbox; sb != nil {
		if code, msg, err := applyNamespaces(sb); err != nil {
			return code, msg, err
		}
		if code, msg, err := dropBounding(sb, in.Cred != nil); err != nil {
			return code, msg, err
		}
	}
	if in.Chroot != "" {
		if err := syscall.Chroot(in.Chroot); err != nil {
			return ExitChroot, "chroot " + in.Chroot, err
		}
		if err := syscall.Chdir("/"); err != nil {
			return ExitChroot, "chdir to new root", err
		}
	}
	if c := in.Cred; c != nil {
		if !c.NoSetGroups {
			gs := make([]int, len(c.Groups))
			for i, g := range c.Groups {
				gs[i] = int(g)
			}
			if err := syscall.Setgroups(gs); err != nil {
				return ExitGroup, "set supplementary groups", err
			}
		}
		if err := syscall.Setgid(int(c.Gid)); err != nil {
			return ExitGroup, "set group", err
		}
		if err := syscall.Setuid(int(c.Uid)); err != nil {
			return ExitUser, "set user", err
		}
	}
	if sb := in.Sandbox; sb != nil {
		if code, msg, err := raiseAmbient(sb); err != nil {
			return code, msg, err
		}
	}
	if in.Dir != "" {
		if err := syscall.Chdir(in.Dir); err != nil {
			return ExitChdir, "chdir " + in.Dir, err
		}
	}
	return 0, "", nil
}

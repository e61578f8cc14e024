package spawn

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// apply performs the helper's instructions in the order that keeps
// privileges as long as they are needed: cgroup join, OOM score and
// limits (raising needs root), nice, umask, chroot, then dropping
// credentials, then the working directory (checked as the target user).
// It returns the EXIT_* status and step description of a failure.
// release is called before the helper waits for a terminal another
// session holds (StandardInput=tty): it tells tend the start is done.
func apply(in *instructions, release func()) (int, string, error) {
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
		if err := setrlimitClosest(l); err != nil {
			return ExitLimits, fmt.Sprintf("set Limit%s=", l.Name), err
		}
	}
	if in.Nice != nil {
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, 0, *in.Nice); err != nil {
			return ExitNice, "set nice", err
		}
	}
	if code, msg, err := applyProc(in.Proc); err != nil {
		return code, msg, err
	}
	if in.TTY != nil {
		if err := acquireTTY(in.TTY, release); err != nil {
			return ExitStdin, "set up the terminal", err
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

// setrlimitClosest sets l, or, when the kernel refuses to raise the hard
// limit that far (no privilege, or above fs.nr_open), the closest it
// allows: both values capped at the current hard limit, as systemd does.
// The clamp is told on the process's stderr, which is the unit's log.
func setrlimitClosest(l limit) error {
	// syscall.Setrlimit (not x/sys/unix) so the Go runtime does not
	// restore its saved RLIMIT_NOFILE on exec.
	err := syscall.Setrlimit(l.Resource, &syscall.Rlimit{Cur: l.Soft, Max: l.Hard})
	if !errors.Is(err, syscall.EPERM) {
		return err
	}
	var cur syscall.Rlimit
	if err := syscall.Getrlimit(l.Resource, &cur); err != nil {
		return err
	}
	fixed := syscall.Rlimit{Cur: min(l.Soft, cur.Max), Max: min(l.Hard, cur.Max)}
	if err := syscall.Setrlimit(l.Resource, &fixed); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "tend: Limit%s=%s:%s is above the allowed hard limit; using %s:%s\n",
		l.Name, rlimitString(l.Soft), rlimitString(l.Hard), rlimitString(fixed.Cur), rlimitString(fixed.Max))
	return nil
}

func rlimitString(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "infinity"
	}
	return strconv.FormatUint(v, 10)
}

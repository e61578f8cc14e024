package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// manager is the tend under test: one `tend run` at a time on the same
// directories, and the notify socket it reports READY=1 on.
type manager struct {
	bin, units, work string
	cmd              *exec.Cmd
	exited           chan error
	ready            chan struct{}
	notify           *net.UnixConn
	cgroups          string // the directory holding the units' cgroups
}

func newManager(bin, units, work string) (*manager, error) {
	path := filepath.Join(work, "outer-notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	m := &manager{bin: bin, units: units, work: work, notify: c, ready: make(chan struct{}, 16)}
	go m.readNotify()
	return m, nil
}

// readNotify passes every READY=1 on; it ends when the socket closes.
func (m *manager) readNotify() {
	buf := make([]byte, 4096)
	for {
		n, err := m.notify.Read(buf)
		if err != nil {
			return
		}
		if bytes.Contains(buf[:n], []byte("READY=1")) {
			m.ready <- struct{}{}
		}
	}
}

// start runs `tend run` and returns how long it took to report READY=1:
// a manager that takes over reports it once every unit is adopted.
func (m *manager) start() (time.Duration, error) {
	m.cmd = exec.Command(m.bin, "run", "--units", m.units,
		"--runtime-dir", filepath.Join(m.work, "run"), "--journal-dir", filepath.Join(m.work, "journal"),
		"--journal-max-use", "4G", "--journal-keep-free", "0",
		"--syslog-socket", "", "--crontab", "", "--svdir", "", "--inetd-conf", "", "--xinetd-conf", "")
	// RELIABILITY_TEND_ARGS adds flags, e.g. --cpu-profile=FILE.
	m.cmd.Args = append(m.cmd.Args, strings.Fields(os.Getenv("RELIABILITY_TEND_ARGS"))...)
	m.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+filepath.Join(m.work, "outer-notify"))
	log, err := os.OpenFile(filepath.Join(m.work, "tend.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer log.Close()
	m.cmd.Stderr = log
	t0 := time.Now()
	if err := m.cmd.Start(); err != nil {
		return 0, err
	}
	m.exited = make(chan error, 1)
	go func(c *exec.Cmd, done chan error) { done <- c.Wait() }(m.cmd, m.exited)
	return m.awaitReady(t0)
}

func (m *manager) awaitReady(t0 time.Time) (time.Duration, error) {
	select {
	case <-m.ready:
		return time.Since(t0), nil
	case err := <-m.exited:
		return 0, fmt.Errorf("tend exited before it was ready: %v (see %s/tend.log)", err, m.work)
	case <-time.After(60 * time.Second):
		return 0, errors.New("tend not ready after 60s")
	}
}

// kill ends tend with SIGKILL.
func (m *manager) kill() {
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	<-m.exited
}

// reexec runs `tend daemon-reexec` and returns the time until the new
// process image reported READY=1.
func (m *manager) reexec() (time.Duration, error) {
	t0 := time.Now()
	if out, err := m.ctl("daemon-reexec"); err != nil {
		return 0, fmt.Errorf("daemon-reexec: %v: %s", err, out)
	}
	return m.awaitReady(t0)
}

// finish stops every unit: through the running tend, or, if it is gone
// (a failed round), through a new one that adopts them first, so that
// no service outlives the benchmark.
func (m *manager) finish() error {
	err := m.stop()
	if err == nil {
		return nil
	}
	fmt.Fprintf(os.Stderr, "tend did not stop cleanly (%v); a new one stops the services\n", err)
	if _, err := m.start(); err != nil {
		return err
	}
	return m.stop()
}

// stop ends tend with SIGTERM: every unit is stopped.
func (m *manager) stop() error {
	if m.cmd.ProcessState != nil {
		return errors.New("tend had exited")
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-m.exited:
		return err
	case <-time.After(120 * time.Second):
		m.kill()
		return errors.New("tend did not stop within 120s")
	}
}

func (m *manager) ctl(args ...string) (string, error) {
	out, err := exec.Command(m.bin, append(args, "--socket", filepath.Join(m.work, "run", "tend.sock"))...).CombinedOutput()
	return string(out), err
}

// findCgroups learns where the units' cgroups are from one of them.
func (m *manager) findCgroups(unit string) error {
	out, err := m.ctl("show", "-p", "ControlGroup", "--value", unit)
	if err != nil {
		return fmt.Errorf("show %s: %v: %s", unit, err, out)
	}
	cg := strings.TrimSpace(out)
	for _, root := range []string{"/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		if _, err := os.Stat(filepath.Join(root, cg, "cgroup.procs")); err == nil {
			m.cgroups = filepath.Dir(filepath.Join(root, cg))
			return nil
		}
	}
	return fmt.Errorf("no cgroup.procs for %s at %q", unit, cg)
}

// procs lists the pids in unit's cgroup, sorted.
func (m *manager) procs(unit string) []int {
	b, _ := os.ReadFile(filepath.Join(m.cgroups, unit, "cgroup.procs"))
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	slices.Sort(pids)
	return pids
}

// snapshot is every unit's processes.
func (m *manager) snapshot(units []string) map[string][]int {
	s := make(map[string][]int, len(units))
	for _, u := range units {
		s[u] = m.procs(u)
	}
	return s
}

// damage compares the units' processes with a snapshot: duplicated
// units run more processes than before, lost ones none, and changed
// ones others.
type damage struct{ duplicated, lost, changed int }

func (m *manager) compare(before map[string][]int) damage {
	var d damage
	for u, want := range before {
		got := m.procs(u)
		switch {
		case slices.Equal(got, want):
		case len(got) == 0:
			d.lost++
		case len(got) > len(want):
			d.duplicated++
		default:
			d.changed++
		}
	}
	return d
}

func (d *damage) add(o damage) {
	d.duplicated += o.duplicated
	d.lost += o.lost
	d.changed += o.changed
}

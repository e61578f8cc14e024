package daemon

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/clockwatch"
	"github.com/tendproject/tend/internal/condition"
	"github.com/tendproject/tend/internal/supervise"
	"github.com/tendproject/tend/internal/timer"
	"github.com/tendproject/tend/internal/unit"
)

// localtime is the file whose replacement changes the local time zone.
const localtime = "/etc/localtime"

// timerEnv describes this machine and instance to timer units: where
// Persistent= stamps live, the machine and boot ids their delays hash,
// and when the machine booted (bootBase) and tend started.
func timerEnv(cfg Config, zone *atomic.Pointer[time.Location]) supervise.TimerEnv {
	now := time.Now()
	env := supervise.TimerEnv{
		Startup: now,
		Boot:    now,
		Host:    timer.Host{System: !cfg.User, UID: uint32(os.Getuid())},
		Local:   zone.Load,
	}
	if cfg.Paths.State != "" {
		env.StampDir = filepath.Join(cfg.Paths.State, "timers")
	}
	env.Boot = bootBase(now, !cfg.User && inContainer())
	if id, ok := readID("/etc/machine-id"); ok {
		env.Host.MachineID = id
	}
	if id, ok := readID("/proc/sys/kernel/random/boot_id"); ok {
		env.Host.Perturb = timer.PerturbFromBootID(id)
	}
	return env
}

// bootBase is what OnBootSec= counts from: the machine's boot
// (CLOCK_BOOTTIME, suspend included), or now — the start of the
// instance — for a system instance in a container, where systemd too
// maps OnBootSec= to OnStartupSec=: the kernel's boot is the host's,
// and a container's "boot" is its init's start.
func bootBase(now time.Time, container bool) time.Time {
	var ts unix.Timespec
	if container || unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return now
	}
	return now.Add(-time.Duration(ts.Nano()))
}

// inContainer reports whether tend runs in a container: a container
// manager's mark (condition.DetectContainer), or a PID namespace other
// than the machine's first (tend started by unshare or as a sandbox's
// init), as systemd-detect-virt decides.
func inContainer() bool {
	return condition.DetectContainer("/", "/proc") != "none" || !initialPIDNamespace("/proc")
}

// initialPIDNamespace reports whether this process is in the machine's
// first PID namespace, which the kernel numbers 0xEFFFFFFC
// (PROC_PID_INIT_INO) in the nsfs; unknown counts as yes.
func initialPIDNamespace(proc string) bool {
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(proc, "self/ns/pid"), &st); err != nil {
		return true
	}
	return st.Ino == 0xEFFFFFFC
}

// readID reads a 128-bit id written in hex, with or without dashes.
func readID(path string) ([16]byte, bool) {
	var id [16]byte
	b, err := os.ReadFile(path)
	if err != nil {
		return id, false
	}
	s := strings.ReplaceAll(strings.TrimSpace(string(b)), "-", "")
	if n, err := hex.Decode(id[:], []byte(s)); err != nil || n != 16 {
		return id, false
	}
	return id, true
}

// loadZone reads the local time zone as it is now. TZ in tend's
// environment wins, as it does for the C library.
func loadZone() *time.Location {
	if _, ok := os.LookupEnv("TZ"); ok {
		return time.Local
	}
	data, err := os.ReadFile(localtime)
	if err != nil {
		return time.UTC
	}
	loc, err := time.LoadLocationFromTZData("Local", data)
	if err != nil {
		return time.Local
	}
	return loc
}

// watchTime tells the manager's timers about clock settings and time
// zone changes.
func (d *daemon) watchTime() (*clockwatch.Watcher, error) {
	return clockwatch.Watch(localtime, func() { d.mgr.TimeChanged(true) }, func() {
		d.zone.Store(loadZone())
		d.log.Info("time zone changed", "zone", d.zone.Load().String())
		d.mgr.TimeChanged(false)
	})
}

// checkTimers types every timer unit's [Timer] section at load, so that
// bad values (a calendar spec systemd rejects, with systemd's reason)
// and directives tend does not apply are reported by name and line now,
// and a timer with nothing to wait for is marked bad-setting.
func checkTimers(set *unit.Set, env *unit.Env, local *time.Location) []string {
	var msgs []string
	for _, u := range set.Units {
		if u.Kind != unit.KindTimer || u.Load != unit.Loaded {
			continue
		}
		_, diags, ok := timer.ParseSpec(u, env, local)
		for _, d := range diags {
			msgs = append(msgs, d.Error())
		}
		u.Diags = append(u.Diags, diags...)
		if !ok {
			u.Load = unit.BadSetting
		}
	}
	return msgs
}

// timerInfo is a timer's status in the wire form (nil for other kinds).
func timerInfo(ts *supervise.TimerStatus) *api.TimerInfo {
	if ts == nil {
		return nil
	}
	us := func(d time.Duration) uint64 { return uint64(max(d, 0) / time.Microsecond) }
	out := &api.TimerInfo{Unit: ts.Unit, NextElapse: ts.NextElapse, NextElapseRealtime: ts.NextElapseRealtime,
		NextElapseMonotonic: us(ts.NextElapseMonotonic), LastTrigger: ts.LastTrigger, Persistent: ts.Persistent,
		AccuracyUSec: us(ts.Accuracy), RandomizedDelayUSec: us(ts.RandomizedDelay)}
	for _, c := range ts.Calendar {
		out.Calendar = append(out.Calendar, api.TimerCalendar{Spec: c.Spec, Next: c.Next})
	}
	for _, m := range ts.Monotonic {
		out.Monotonic = append(out.Monotonic, api.TimerMonotonic{Base: m.Base, SpanUSec: us(m.Span), NextUSec: us(m.Next)})
	}
	return out
}

// timerProperties are show's properties of a timer, as systemctl names
// and prints them.
func timerProperties(ts *supervise.TimerStatus, set func(k, v string)) {
	local := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return timestamp(t.Local())
	}
	set("Unit", ts.Unit)
	set("NextElapseUSecRealtime", local(ts.NextElapseRealtime))
	set("NextElapseUSecMonotonic", usec(ts.NextElapseMonotonic))
	set("LastTriggerUSec", local(ts.LastTrigger))
	set("Persistent", yesNo(ts.Persistent))
	set("AccuracyUSec", usec(ts.Accuracy))
	set("RandomizedDelayUSec", usec(ts.RandomizedDelay))
	var cal, mono []string
	for _, c := range ts.Calendar {
		next := local(c.Next)
		if next == "" {
			next = "n/a"
		}
		cal = append(cal, fmt.Sprintf("{ OnCalendar=%s ; next_elapse=%s }", c.Spec, next))
	}
	for _, m := range ts.Monotonic {
		mono = append(mono, fmt.Sprintf("{ %s=%s ; next_elapse=%s }", m.Base, usec(m.Span), usec(m.Next)))
	}
	set("TimersCalendar", strings.Join(cal, " "))
	set("TimersMonotonic", strings.Join(mono, " "))
}

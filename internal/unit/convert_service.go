package unit

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// execField returns the command list an Exec*= directive fills.
func execField(s *Service, key string) *[]Command {
	switch key {
	case "ExecCondition":
		return &s.ExecCondition
	case "ExecStartPre":
		return &s.ExecStartPre
	case "ExecStart":
		return &s.ExecStart
	case "ExecStartPost":
		return &s.ExecStartPost
	case "ExecReload":
		return &s.ExecReload
	case "ExecStop":
		return &s.ExecStop
	case "ExecStopPost":
		return &s.ExecStopPost
	}
	return nil
}

var serviceTypes = []ServiceType{TypeSimple, TypeExec, TypeForking, TypeOneshot, TypeNotify, TypeNotifyReload, TypeIdle, TypeDBus}

var restartPolicies = []RestartPolicy{RestartNo, RestartAlways, RestartOnSuccess, RestartOnFailure, RestartOnAbnormal, RestartOnAbort, RestartOnWatchdog}

func (c *converter) serviceEntry(e Entry) bool {
	s := c.u.Service
	if list := execField(s, e.Key); list != nil {
		c.exec(e, list)
		return true
	}
	switch e.Key {
	case "Type":
		if !slices.Contains(serviceTypes, ServiceType(e.Value)) {
			c.bad(e, fmt.Errorf("unknown service type %q", e.Value))
			break
		}
		s.Type = ServiceType(e.Value)
	case "RemainAfterExit":
		c.boolean(e, &s.RemainAfterExit)
	case "GuessMainPID":
		c.boolean(e, &s.GuessMainPID)
	case "PIDFile":
		if v, ok := c.expand(e); ok {
			if v != "" && !filepath.IsAbs(v) {
				v = filepath.Join("/run", v)
			}
			s.PIDFile = filepath.Clean(v)
			if v == "" {
				s.PIDFile = ""
			}
		}
	case "OOMPolicy":
		if !slices.Contains([]string{"", "continue", "stop", "kill"}, e.Value) {
			c.bad(e, fmt.Errorf("unknown OOM policy %q", e.Value))
			break
		}
		s.OOMPolicy = e.Value
	case "NotifyAccess":
		if !slices.Contains([]string{"none", "main", "exec", "all"}, e.Value) {
			c.bad(e, fmt.Errorf("unknown notify access %q", e.Value))
			break
		}
		s.NotifyAccess = e.Value
	case "Restart":
		if !slices.Contains(restartPolicies, RestartPolicy(e.Value)) {
			c.bad(e, fmt.Errorf("unknown restart policy %q", e.Value))
			break
		}
		s.Restart = RestartPolicy(e.Value)
	case "RestartSteps":
		c.integer(e, &s.RestartSteps, 0, 3000)
	case "Sockets":
		c.names(e, &s.Sockets, false)
	case "SuccessExitStatus", "RestartPreventExitStatus", "RestartForceExitStatus":
		c.exitStatus(e)
	case "StartLimitInterval", "StartLimitIntervalSec", "StartLimitBurst", "StartLimitAction":
		c.startLimit(e)
	default:
		return c.serviceTime(e) || c.killEntry(e) || c.execEntry(e) || used(c.resourceEntry(e), &c.resSet)
	}
	return true
}

// serviceTime handles the time spans of [Service].
func (c *converter) serviceTime(e Entry) bool {
	s := c.u.Service
	var dsts []*time.Duration
	zeroIsInfinity := true
	switch e.Key {
	case "RestartSec":
		dsts, zeroIsInfinity = []*time.Duration{&s.RestartSec}, false
	case "RestartMaxDelaySec":
		dsts, zeroIsInfinity = []*time.Duration{&s.RestartMaxDelay}, false
	case "TimeoutSec":
		dsts = []*time.Duration{&s.TimeoutStart, &s.TimeoutStop}
	case "TimeoutStartSec":
		dsts = []*time.Duration{&s.TimeoutStart}
	case "TimeoutStopSec":
		dsts = []*time.Duration{&s.TimeoutStop}
	case "TimeoutAbortSec":
		dsts = []*time.Duration{&s.TimeoutAbort}
		c.abortSet = e.Value != ""
		if !c.abortSet {
			return true // empty: back to following TimeoutStopSec=
		}
	case "RuntimeMaxSec":
		dsts = []*time.Duration{&s.RuntimeMax}
	case "WatchdogSec":
		dsts, zeroIsInfinity = []*time.Duration{&s.Watchdog}, false
	default:
		return false
	}
	d, ok := c.timespan(e, time.Second)
	if !ok {
		return true
	}
	if d == 0 && zeroIsInfinity {
		d = Infinity // systemd: 0 disables the timeout
	}
	for _, p := range dsts {
		*p = d
	}
	return true
}

func (c *converter) exec(e Entry, list *[]Command) {
	if e.Value == "" {
		*list = nil
		return
	}
	v := e.Value
	cmds, relaxed, err := parseExecLine(v, c.spec.expand)
	if err != nil {
		c.fatal(e, err)
		return
	}
	if relaxed > 0 {
		c.diag(e, Warning, "ignoring unknown escape sequences in %q", v)
	}
	for i := range cmds {
		cmds[i].File, cmds[i].Line = e.File, e.Line
	}
	*list = append(*list, cmds...)
}

func (c *converter) exitStatus(e Entry) {
	s := c.u.Service
	dst := map[string]*ExitStatusSet{
		"SuccessExitStatus": &s.SuccessExitStatus, "RestartPreventExitStatus": &s.RestartPreventExitStatus,
		"RestartForceExitStatus": &s.RestartForceExitStatus,
	}[e.Key]
	if e.Value == "" {
		*dst = ExitStatusSet{}
		return
	}
	set, err := ParseExitStatusSet(e.Value)
	if err != nil {
		c.bad(e, err)
		return
	}
	dst.Codes = append(dst.Codes, set.Codes...)
	dst.Signals = append(dst.Signals, set.Signals...)
}

// killEntry handles systemd.kill(5).
func (c *converter) killEntry(e Entry) bool {
	k := &c.u.Service.Kill
	switch e.Key {
	case "KillMode":
		if !slices.Contains([]KillMode{KillControlGroup, KillMixed, KillProcess, KillNone}, KillMode(e.Value)) {
			c.bad(e, fmt.Errorf("unknown kill mode %q", e.Value))
			break
		}
		k.Mode = KillMode(e.Value)
		if k.Mode == KillNone {
			c.diag(e, Warning, "KillMode=none is deprecated and leaves processes behind")
		}
	case "KillSignal", "RestartKillSignal", "FinalKillSignal", "WatchdogSignal":
		sig, err := ParseSignal(e.Value)
		if err != nil {
			c.bad(e, err)
			break
		}
		*map[string]*int{"KillSignal": &k.Signal, "RestartKillSignal": &k.RestartKillSignal,
			"FinalKillSignal": &k.FinalKillSignal, "WatchdogSignal": &k.WatchdogSignal}[e.Key] = sig
	case "SendSIGKILL":
		c.boolean(e, &k.SendSIGKILL)
	case "SendSIGHUP":
		c.boolean(e, &k.SendSIGHUP)
	default:
		return false
	}
	return true
}

// finishService applies the defaults that depend on other settings and
// refuses services systemd would refuse to load.
func (c *converter) finishService() {
	s := c.u.Service
	c.keepRare(s)
	if s.Kill.RestartKillSignal == 0 {
		s.Kill.RestartKillSignal = s.Kill.Signal
	}
	if !c.abortSet {
		s.TimeoutAbort = s.TimeoutStop
	}
	if s.Exec.StandardInput == "" && len(s.Exec.StandardInputData) > 0 {
		s.Exec.StandardInput = "data"
	}
	if in := s.Exec.StandardInput; s.Exec.StandardOutput == "" &&
		(strings.HasPrefix(in, "tty") || in == "socket" || strings.HasPrefix(in, "fd:")) {
		s.Exec.StandardOutput = "inherit" // systemd.exec(5): the same as stdin
	}
	if s.Type == "" {
		s.Type = TypeSimple
		if len(s.ExecStart) == 0 {
			s.Type = TypeOneshot
		}
	}
	switch {
	case len(s.ExecStart) == 0 && len(s.ExecStop) == 0 && !c.successAction:
		c.refuse("Service has no ExecStart=, ExecStop=, or SuccessAction=.")
	case s.Type != TypeOneshot && len(s.ExecStart) == 0:
		c.refuse("Service has no ExecStart= setting, which is only allowed for Type=oneshot services.")
	case !s.RemainAfterExit && len(s.ExecStart) == 0 && !c.successAction:
		c.refuse("Service has no ExecStart= and no SuccessAction= settings and does not have RemainAfterExit=yes set.")
	case s.Type != TypeOneshot && len(s.ExecStart) > 1:
		c.refuse("Service has more than one ExecStart= setting, which is only allowed for Type=oneshot services.")
	case s.Type == TypeOneshot && (s.Restart == RestartAlways || s.Restart == RestartOnSuccess):
		c.refuse("Service has Restart= set to either always or on-success, which isn't allowed for Type=oneshot services.")
	}
}

// keepRare gives the service the sandbox, process and resource settings
// that were set, from the converter's scratch space (nil when none were).
func (c *converter) keepRare(s *Service) {
	if c.sandboxSet {
		s.Exec.Sandbox = new(c.rare.sandbox)
	}
	if c.procSet {
		s.Exec.Proc = new(c.rare.proc)
	}
	if c.resSet {
		s.Resources = new(c.rare.res)
	}
}

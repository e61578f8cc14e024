package supervise

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/clock"
	"github.com/tendproject/tend/internal/unit"
)

func TestExitStatusClean(t *testing.T) {
	set := unit.ExitStatusSet{Codes: []int{42}, Signals: []int{int(unix.SIGUSR1)}}
	tests := []struct {
		st         exitStatus
		main, want bool
	}{
		{exitStatus{code: "exited", status: 0}, true, true},
		{exitStatus{code: "exited", status: 0}, false, true},
		{exitStatus{code: "exited", status: 1}, true, false},
		{exitStatus{code: "exited", status: 42}, false, true},
		{exitStatus{code: "killed", status: int(unix.SIGTERM)}, true, true},
		{exitStatus{code: "killed", status: int(unix.SIGTERM)}, false, false},
		{exitStatus{code: "killed", status: int(unix.SIGKILL)}, true, false},
		{exitStatus{code: "killed", status: int(unix.SIGUSR1)}, false, true},
		{exitStatus{code: "dumped", status: int(unix.SIGSEGV)}, true, false},
	}
	for _, tt := range tests {
		if got := tt.st.clean(set, tt.main); got != tt.want {
			t.Errorf("%v.clean(main=%v) = %v; want %v", tt.st, tt.main, got, tt.want)
		}
	}
}

func TestExitStatusString(t *testing.T) {
	tests := []struct {
		st   exitStatus
		want string
	}{
		{exitStatus{code: "exited", status: 203}, "code=exited, status=203/EXEC"},
		{exitStatus{code: "exited", status: 1}, "code=exited, status=1/FAILURE"},
		{exitStatus{code: "exited", status: 99}, "code=exited, status=99"},
		{exitStatus{code: "killed", status: 9}, "code=killed, status=9/KILL"},
		{exitStatus{code: "dumped", status: 11}, "code=dumped, status=11/SEGV"},
	}
	for _, tt := range tests {
		if got := tt.st.String(); got != tt.want {
			t.Errorf("String() = %q; want %q", got, tt.want)
		}
	}
}

// TestShallRestart walks systemd.service(5)'s table of Restart= values
// against each way a run can end.
func TestShallRestart(t *testing.T) {
	clean := &exitStatus{code: "exited", status: 0}
	unclean := &exitStatus{code: "exited", status: 1}
	sig := &exitStatus{code: "killed", status: 9}
	dump := &exitStatus{code: "dumped", status: 11}
	type row struct {
		r    Result
		last *exitStatus
	}
	cases := []row{
		{ResultSuccess, clean}, {ResultExitCode, unclean}, {ResultSignal, sig},
		{ResultCoreDump, dump}, {ResultTimeout, nil}, {ResultWatchdog, nil},
	}
	want := map[unit.RestartPolicy][]bool{
		unit.RestartNo:         {false, false, false, false, false, false},
		unit.RestartAlways:     {true, true, true, true, true, true},
		unit.RestartOnSuccess:  {true, false, false, false, false, false},
		unit.RestartOnFailure:  {false, true, true, true, true, true},
		unit.RestartOnAbnormal: {false, false, true, true, true, true},
		unit.RestartOnWatchdog: {false, false, false, false, false, true},
		unit.RestartOnAbort:    {false, false, true, true, false, false},
	}
	for policy, wants := range want {
		for i, c := range cases {
			svc := &unit.Service{Restart: policy}
			if got := shallRestart(svc, c.r, c.last); got != wants[i] {
				t.Errorf("Restart=%s, result %s: got %v; want %v", policy, c.r, got, wants[i])
			}
		}
	}
	svc := &unit.Service{Restart: unit.RestartAlways, RestartPreventExitStatus: unit.ExitStatusSet{Codes: []int{1}}}
	if shallRestart(svc, ResultExitCode, unclean) {
		t.Error("RestartPreventExitStatus=1 did not prevent a restart")
	}
	svc = &unit.Service{Restart: unit.RestartNo, RestartForceExitStatus: unit.ExitStatusSet{Signals: []int{9}}}
	if !shallRestart(svc, ResultSignal, sig) {
		t.Error("RestartForceExitStatus=SIGKILL did not force a restart")
	}
	if shallRestart(&unit.Service{Restart: unit.RestartAlways}, ResultStartLimitHit, nil) {
		t.Error("restarted after hitting the start limit")
	}
}

func TestRestartDelay(t *testing.T) {
	m := &Manager{clock: clock.Real()}
	svc := &unit.Service{RestartSec: 100 * time.Millisecond, RestartSteps: 4, RestartMaxDelay: 1600 * time.Millisecond}
	u := &service{rt: &rt{def: &unit.Unit{Service: svc}}}
	want := []time.Duration{100, 200, 400, 800, 1600, 1600}
	for step, w := range want {
		u.restartStep = step
		if got := m.restartDelay(u).Round(time.Millisecond); got != w*time.Millisecond {
			t.Errorf("step %d: delay %v; want %v", step, got, w*time.Millisecond)
		}
	}
	// A run that lasted longer than the maximum delay starts the series over.
	u.restartStep, u.activeAt = 3, time.Now().Add(-2*time.Second)
	if got := m.restartDelay(u); got != 100*time.Millisecond || u.restartStep != 0 {
		t.Errorf("after a long run: delay %v step %d; want 100ms step 0", got, u.restartStep)
	}
	plain := &service{rt: &rt{def: &unit.Unit{Service: &unit.Service{RestartSec: 250 * time.Millisecond}}}}
	plain.restartStep = 7
	if got := m.restartDelay(plain); got != 250*time.Millisecond {
		t.Errorf("without RestartSteps: delay %v; want 250ms", got)
	}
}

func TestCheckStartLimit(t *testing.T) {
	m := &Manager{clock: clock.Real()}
	u := &rt{def: &unit.Unit{StartLimitInterval: time.Hour, StartLimitBurst: 3}}
	for i := range 3 {
		if !m.checkStartLimit(u) {
			t.Fatalf("start %d refused; want allowed", i+1)
		}
	}
	if m.checkStartLimit(u) {
		t.Fatal("4th start within the interval allowed; want refused")
	}
	u.startTimes = []time.Time{time.Now().Add(-2 * time.Hour)}
	if !m.checkStartLimit(u) || len(u.startTimes) != 1 {
		t.Fatalf("old starts not forgotten: %d kept", len(u.startTimes))
	}
}

func TestSubStateActive(t *testing.T) {
	for s := Dead; s < numSubStates; s++ {
		if s.String() == "" || s.String() == "invalid" {
			t.Errorf("sub-state %d has no name", s)
		}
		a := s.Active()
		if s.stopping() && a != Deactivating {
			t.Errorf("%s: stopping but %s", s, a)
		}
		if s.starting() && a != Activating {
			t.Errorf("%s: starting but %s", s, a)
		}
	}
}

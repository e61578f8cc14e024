package supervise

import (
	"fmt"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/tendproject/tend/internal/notify"
	"github.com/tendproject/tend/internal/plan"
	"github.com/tendproject/tend/internal/unit"
)

// passiveKinds are the kinds without processes that the transition
// table walks, each with a unit that stands for it.
var passiveKinds = []struct {
	kind string
	def  *unit.Unit
}{
	{"target", &unit.Unit{Name: "t.target", Kind: unit.KindTarget, Load: unit.Loaded}},
	{"external", &unit.Unit{Name: "t.path", Kind: unit.KindPath, Load: unit.Loaded}},
}

// passiveStates are the states a passive unit can be in.
var passiveStates = []SubState{Dead, Running}

// passiveEvents are the jobs and the unit events any engine may be sent;
// a passive unit reacts to the jobs only.
var passiveEvents = []struct {
	name  string
	apply func(m *Manager, u *rt)
}{
	{"start", passiveJob(plan.Start)},
	{"stop", passiveJob(plan.Stop)},
	{"restart", passiveJob(plan.Restart)},
	{"reload", passiveJob(plan.Reload)},
	{"verify-active", passiveJob(plan.VerifyActive)},
	{"process-exit", func(m *Manager, u *rt) { u.eng.event(m, procExit{role: roleMain}) }},
	{"timeout", func(m *Manager, u *rt) { u.eng.event(m, deadline{}) }},
	{"notify", func(m *Manager, u *rt) { u.eng.event(m, notified{msg: notify.Message{Ready: true}}) }},
	{"cgroup-empty", func(m *Manager, u *rt) { u.eng.event(m, groupEmpty{}) }},
	{"alarm", func(m *Manager, u *rt) { u.eng.event(m, alarm{}) }},
	{"readable", func(m *Manager, u *rt) { u.eng.event(m, readable{fd: -1}) }},
}

func passiveJob(kind plan.JobKind) func(m *Manager, u *rt) {
	return func(m *Manager, u *rt) {
		if tx, err := m.plan.Transaction(kind, []string{u.name}, plan.Replace, m.activeState); err == nil {
			if _, err := m.jobs.submit(tx); err != nil {
				panic(err)
			}
		}
	}
}

// passiveMatrix writes the transition matrix of one passive kind to w,
// walking every state × event pair on a fresh manager.
func passiveMatrix(t *testing.T, w *strings.Builder, kind string, def *unit.Unit) {
	fmt.Fprintf(w, "# kind=%s (%s)\n", kind, def.Name)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprint(tw, "state")
	for _, ev := range passiveEvents {
		fmt.Fprintf(tw, "\t%s", ev.name)
	}
	fmt.Fprintln(tw)
	for _, s := range passiveStates {
		var label string
		for i, ev := range passiveEvents {
			next := ""
			t.Run(fmt.Sprintf("%s/%s/%s", kind, s, ev.name), func(t *testing.T) {
				m, u := newPassiveManager(t, def)
				u.state = s
				if i == 0 {
					label = u.eng.sub()
				}
				ev.apply(m, u)
				drain(m)
				if u.job != nil && u.job.finished {
					t.Errorf("finished job still attached")
				}
				if u.hasDeadline() || len(m.pids) != 0 {
					t.Errorf("a passive unit armed a deadline or tracks processes")
				}
				next = u.eng.sub()
			})
			if i == 0 {
				fmt.Fprint(tw, label)
			}
			fmt.Fprintf(tw, "\t%s", next)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	w.WriteString("\n")
}

func newPassiveManager(t *testing.T, def *unit.Unit) (*Manager, *rt) {
	t.Helper()
	d := *def
	m, _, _ := newTableManager(t, tableUnit(unit.TypeSimple, unit.RestartNo, 0), &d)
	u, err := m.lookup(d.Name)
	if err != nil {
		t.Fatal(err)
	}
	return m, u
}

// TestPassiveJobs pins what the passive kinds answer to jobs and what
// they log.
func TestPassiveJobs(t *testing.T) {
	tests := []struct {
		def        *unit.Unit
		kind       plan.JobKind
		from       SubState
		want       string // sub-state after the job
		wantResult string
		wantLog    string
	}{
		{passiveKinds[0].def, plan.Start, Dead, "active", "done", "Reached target t.target."},
		{passiveKinds[0].def, plan.Stop, Running, "dead", "done", ""},
		{passiveKinds[0].def, plan.Reload, Running, "active", "refused", ""}, // by the plan
		// Every kind the plan gives jobs to has an engine now.
		{passiveKinds[1].def, plan.Start, Dead, "dead", "refused", ""},
		{passiveKinds[1].def, plan.Restart, Running, "active", "refused", ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/%s", tt.def.Name, tt.kind, tt.from), func(t *testing.T) {
			m, u := newPassiveManager(t, tt.def)
			u.state = tt.from
			tx, err := m.plan.Transaction(tt.kind, []string{u.name}, plan.Replace, m.activeState)
			if tt.wantResult == "refused" {
				if err == nil {
					t.Fatalf("%s job accepted; want it refused", tt.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			jobs, err := m.jobs.submit(tx)
			if err != nil {
				t.Fatal(err)
			}
			drain(m)
			var j *job
			for i, pj := range tx.Jobs {
				if pj.Unit == u.name {
					j = jobs[i]
				}
			}
			if got := u.eng.sub(); got != tt.want || j == nil || j.result != tt.wantResult {
				t.Fatalf("%s job from %s: %s, job %v; want %s, job %s", tt.kind, tt.from, got, j, tt.want, tt.wantResult)
			}
			var logged []string
			for i := range m.pending {
				logged = append(logged, m.pending[i].formatted())
			}
			if tt.wantLog != "" && !strings.Contains(strings.Join(logged, "\n"), tt.wantLog) {
				t.Errorf("logged %q; want %q", logged, tt.wantLog)
			}
		})
	}
}

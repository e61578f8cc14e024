package unit

import "testing"

// TestRareSettingsKeptOnlyWhenSet: a service that sets no sandboxing,
// process or resource setting carries none of those structs (they are
// most of a Service's size); one that sets them has them typed.
func TestRareSettingsKeptOnlyWhenSet(t *testing.T) {
	plain := loadText(t, "p.service", "[Service]\nExecStart=/bin/true\nUser=nobody\n")
	if e := plain.Service.Exec; e.Sandbox != nil || e.Proc != nil || plain.Service.Resources != nil {
		t.Errorf("plain service keeps sandbox %v proc %v resources %v", e.Sandbox, e.Proc, plain.Service.Resources)
	}
	if plain.Service.Exec.SandboxSettings().Active() || plain.Service.Exec.ProcSettings().Set() {
		t.Error("defaults read as set")
	}
	set := loadText(t, "s.service", "[Service]\nExecStart=/bin/true\nPrivateTmp=yes\nIgnoreSIGPIPE=no\nTasksMax=12\n")
	e := set.Service.Exec
	if e.Sandbox == nil || !e.Sandbox.PrivateTmp || e.Proc == nil || !e.Proc.SIGPIPEDefault ||
		set.Service.Resources == nil || set.Service.Resources.TasksMax.Value != 12 {
		t.Errorf("typed as sandbox %+v proc %+v resources %+v", e.Sandbox, e.Proc, set.Service.Resources)
	}
}

// TestExecSettingsKeepRare: the exec settings of a socket unit (its
// ExecStartPre= &c.) keep their sandbox and process settings too.
func TestExecSettingsKeepRare(t *testing.T) {
	u := loadText(t, "s.socket", "[Socket]\nListenStream=7\n")
	x := NewExecSettings(u, nil)
	for _, e := range []Entry{{Key: "PrivateTmp", Value: "yes"}, {Key: "IgnoreSIGPIPE", Value: "no"}} {
		if ok, diags := x.Entry(e); !ok || len(diags) > 0 {
			t.Fatalf("%s=: ok=%v %v", e.Key, ok, diags)
		}
	}
	ec, _ := x.Result()
	if !ec.SandboxSettings().PrivateTmp || !ec.ProcSettings().SIGPIPEDefault {
		t.Errorf("socket exec settings lost: sandbox %+v proc %+v", ec.Sandbox, ec.Proc)
	}
}

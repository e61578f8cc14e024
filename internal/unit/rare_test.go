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
	set := loadText(t, "s.service", "[Service]\nExecStart=/bin/true\nPrivateTmp=yes\nIgnoreSIGPIPE=yes\nTasksMax=12\n")
	e := set.Service.Exec
	if e.Sandbox == nil || !e.Sandbox.PrivateTmp || e.Proc == nil || !e.Proc.IgnoreSIGPIPE ||
		set.Service.Resources == nil || set.Service.Resources.TasksMax.Value != 12 {
		t.Errorf("typed as sandbox %+v proc %+v resources %+v", e.Sandbox, e.Proc, set.Service.Resources)
	}
}

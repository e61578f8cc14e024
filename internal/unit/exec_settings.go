package unit

// ExecSettings types the systemd.exec(5) settings found in the section
// of a unit kind that other packages type — a socket's [Socket] — for
// the processes such a unit runs itself (a socket's ExecStartPre= and
// the like). It starts from a service's defaults.
type ExecSettings struct {
	c *converter
}

// NewExecSettings prepares to type the exec settings of u, resolving
// specifiers with env.
func NewExecSettings(u *Unit, env *Env) *ExecSettings {
	tmp := &Unit{Name: u.Name, Path: u.Path, Load: Loaded, Service: newUnit("exec.service").Service}
	return &ExecSettings{c: &converter{u: tmp, spec: specCtx{env: env, name: u.Name, fragment: u.Path}}}
}

// Entry types e if it is a systemd.exec(5) setting that tend applies,
// and reports whether it was one, with the diagnostics of a bad value.
func (x *ExecSettings) Entry(e Entry) (bool, []Diag) {
	if e.Key == "DynamicUser" {
		return false, nil // not applied by spawn: left to the caller's warning
	}
	u := x.c.u
	n := len(u.Diags)
	ok := x.c.execEntry(e)
	return ok, u.Diags[n:]
}

// Result is the typed settings, and whether a bad value makes the unit
// unusable (as systemd refuses a unit with an invalid User=, say).
func (x *ExecSettings) Result() (ExecContext, bool) {
	u := x.c.u
	x.c.keepRare(u.Service) // a socket's sandbox and process settings too
	return u.Service.Exec, u.Load == BadSetting
}

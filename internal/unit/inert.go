package unit

// warnInert adds to the unit's summary warning the settings tend reads
// into a typed field but does not act on (yet), so that no directive is
// silently inert: a unit asking for StopWhenUnneeded=yes is told it does
// not get it. Remove a line here when its setting gets applied.
func (c *converter) warnInert() {
	u := c.u
	inert := []struct {
		key string
		set bool
	}{
		{"StopWhenUnneeded", u.StopWhenUnneeded},
		{"JobTimeoutSec", u.JobTimeout != 0},
		{"StartLimitAction", u.StartLimitAction != "" && u.StartLimitAction != "none"},
	}
	for _, in := range inert {
		if in.set {
			c.unsupported(in.key)
		}
	}
}

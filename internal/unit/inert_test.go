package unit

import (
	"strings"
	"testing"
)

// TestParsedButInertIsWarned: a directive tend types but does not apply
// is named in the unit's load warning, like the unsupported ones; the
// same directives at their defaults are not.
func TestParsedButInertIsWarned(t *testing.T) {
	tests := []struct {
		name, text string
		warned     []string
	}{
		{"unit level", "[Unit]\nStopWhenUnneeded=yes\nJobTimeoutSec=5\nStartLimitAction=reboot\n[Service]\nExecStart=/bin/a\n",
			[]string{"StopWhenUnneeded", "JobTimeoutSec", "StartLimitAction"}},
		{"defaults", "[Unit]\nStopWhenUnneeded=no\nStartLimitAction=none\n[Service]\nExecStart=/bin/a\nDynamicUser=no\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := loadText(t, "a.service", tt.text)
			d := diagText(u)
			for _, k := range tt.warned {
				if !strings.Contains(d, "ignored: ") || !strings.Contains(d, k) {
					t.Errorf("%s not warned about:\n%s", k, d)
				}
			}
			if tt.warned == nil && strings.Contains(d, "ignored") {
				t.Errorf("defaults warned about:\n%s", d)
			}
		})
	}
}

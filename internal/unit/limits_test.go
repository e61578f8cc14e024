package unit

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseLimits walks each limit at and just over its bound: within,
// the file parses whole; over, it is refused with a file:line diagnostic.
func TestParseLimits(t *testing.T) {
	long := func(n int) string { return "[Service]\nA=" + strings.Repeat("x", n-2) + "\nB=after\n" }
	lines := func(n int) string {
		var b strings.Builder
		b.WriteString("[Service]\n")
		for i := 1; i < n; i++ {
			fmt.Fprintf(&b, "Environment=V%d=%d\n", i, i)
		}
		return b.String()
	}
	cont := "[Service]\nA=" + strings.Repeat("x", MaxLine/2) + "\\\n" + strings.Repeat("y", MaxLine/2) + "\nB=after\n"
	tests := []struct {
		name    string
		in      string
		over    bool
		diag    string // substring of the one diag when over
		entries int    // when not over
	}{
		{"line at the limit", long(MaxLine), false, "", 2},
		{"line over the limit", long(MaxLine + 1), true, "f.service:2: line longer than 1 MiB; the unit is not loaded", 0},
		{"line far over the limit (scanner bound)", long(3 * MaxLine), true, "f.service:2: line longer than 1 MiB", 0},
		{"continuation over the limit", cont, true, "f.service:3: continuation line longer than 1 MiB", 0},
		{"assignments at the limit", lines(MaxAssignments), false, "", MaxAssignments - 1},
		{"assignments over the limit", lines(MaxAssignments + 1), true,
			fmt.Sprintf("f.service:%d: more than %d assignments in the unit", MaxAssignments+1, MaxAssignments), 0},
		{"bad lines count too", "[Service]\n" + strings.Repeat("junk\n", MaxAssignments), true, "more than 65536 assignments", 0},
		{"comments and blanks do not count", "[Service]\n" + strings.Repeat("# c\n\n", MaxAssignments) + "A=1\n", false, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, diags := ParseFile("f.service", strings.NewReader(tt.in))
			if f.OverLimit != tt.over {
				t.Fatalf("OverLimit = %v; want %v (diags %v)", f.OverLimit, tt.over, diags)
			}
			if !tt.over {
				if len(f.Entries) != tt.entries || len(diags) != 0 && tt.name != "bad lines count too" {
					t.Errorf("%d entries, diags %v; want %d entries, none", len(f.Entries), diags, tt.entries)
				}
				return
			}
			if len(f.Entries) != 0 {
				t.Errorf("%d entries kept from a refused file", len(f.Entries))
			}
			last := diags[len(diags)-1]
			if !strings.Contains(last.Error(), tt.diag) || last.Severity != Error {
				t.Errorf("last diag = %q; want it to contain %q", last.Error(), tt.diag)
			}
		})
	}
}

// TestUnitSizeLimit: the byte budget is the unit's, fragment and drop-ins
// together, so many drop-ins cannot add up past it.
func TestUnitSizeLimit(t *testing.T) {
	dir := t.TempDir()
	// Each drop-in holds 4 MiB in comments (which cost no assignments).
	chunk := strings.Repeat("# "+strings.Repeat("c", 1021)+"\n", 4<<10)
	write(t, filepath.Join(dir, "big.service"), "[Service]\nExecStart=/bin/true\n")
	for i := range 4 {
		write(t, filepath.Join(dir, "big.service.d", fmt.Sprintf("%d.conf", i)), chunk)
	}
	write(t, filepath.Join(dir, "ok.service"), "[Service]\nExecStart=/bin/true\n")
	l := &Loader{Dirs: []string{dir}, Env: testEnv()}
	set, _ := l.LoadAll()
	u := set.Get("big.service")
	if u.Load != LoadError || !strings.Contains(diagText(u), "3.conf:") || !strings.Contains(diagText(u), "larger than 16 MiB") {
		t.Errorf("big.service: load %s, diags:\n%s", u.Load, diagText(u))
	}
	if ok := set.Get("ok.service"); ok.Load != Loaded || len(ok.Diags) != 0 {
		t.Errorf("ok.service: load %s, diags %v", ok.Load, ok.Diags)
	}
}

// TestOverLimitUnitAlone: a unit over a limit does not load (as systemd
// refuses a unit file with a line over LONG_LINE_MAX), keeps no entries,
// and the units beside it load as usual.
func TestOverLimitUnitAlone(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("[Service]\nExecStart=/bin/true\n")
	for i := range 520_000 {
		fmt.Fprintf(&b, "Environment=V%d=%d\n", i, i)
	}
	write(t, filepath.Join(dir, "huge.service"), b.String())
	write(t, filepath.Join(dir, "long.service"), "[Service]\nExecStart=/bin/true\nEnvironment=A="+strings.Repeat("x", MaxLine)+"\n")
	write(t, filepath.Join(dir, "dropin.service"), "[Service]\nExecStart=/bin/true\n")
	write(t, filepath.Join(dir, "dropin.service.d", "x.conf"), "[Service]\nEnvironment=A="+strings.Repeat("x", MaxLine)+"\n")
	write(t, filepath.Join(dir, "ok.service"), "[Service]\nExecStart=/bin/true\nEnvironment=A=1\n")
	l := &Loader{Dirs: []string{dir}, Env: testEnv()}
	set, diags := l.LoadAll()
	for name, want := range map[string]string{
		"huge.service":   "huge.service:65537: more than 65536 assignments",
		"long.service":   "long.service:3: line longer than 1 MiB",
		"dropin.service": "x.conf:2: line longer than 1 MiB",
	} {
		u := set.Get(name)
		if u.Load != LoadError || len(u.Entries) != 0 || u.Service.Exec.Environment != nil {
			t.Errorf("%s: load %s, %d entries; want error and none", name, u.Load, len(u.Entries))
		}
		if !strings.Contains(diagText(u), want) {
			t.Errorf("%s diags:\n%s\nwant %q", name, diagText(u), want)
		}
	}
	if u := set.Get("ok.service"); u.Load != Loaded || len(u.Service.Exec.Environment) != 1 {
		t.Errorf("ok.service: %s %v", u.Load, u.Service.Exec.Environment)
	}
	if len(diags) != 3 {
		t.Errorf("LoadAll diags = %v; want one per refused unit", diags)
	}
}

package unit

import (
	"slices"
	"strings"
	"testing"
)

func TestParseCPUSet(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		ok   bool
	}{
		{"", nil, true},
		{"0", []int{0}, true},
		{"0-2 5,7", []int{0, 1, 2, 5, 7}, true},
		{"3 1 1-2", []int{1, 2, 3}, true},
		{"2-1", nil, false},
		{"x", nil, false},
		{"-1", nil, false},
		{"9000", nil, false},
	}
	for _, tt := range tests {
		got, err := ParseCPUSet(tt.in)
		if (err == nil) != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("ParseCPUSet(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseCredential(t *testing.T) {
	tests := []struct {
		in   string
		load bool
		want Credential
		ok   bool
	}{
		{`pw:se\x63ret\n`, false, Credential{ID: "pw", Data: []byte("secret\n")}, true},
		{"pw:a:b", false, Credential{ID: "pw", Data: []byte("a:b")}, true},
		{"pw", false, Credential{}, false},
		{"pw:/etc/pw", true, Credential{ID: "pw", Path: "/etc/pw", Load: true}, true},
		{"pw", true, Credential{ID: "pw", Load: true}, true},
		{"pw:store-name", true, Credential{ID: "pw", Path: "store-name", Load: true}, true},
		{"pw:a/b", true, Credential{}, false},
		{"a/b:x", false, Credential{}, false},
		{":x", false, Credential{}, false},
	}
	for _, tt := range tests {
		got, err := ParseCredential(tt.in, tt.load)
		if (err == nil) != tt.ok || got.ID != tt.want.ID || string(got.Data) != string(tt.want.Data) || got.Path != tt.want.Path || got.Load != tt.want.Load {
			t.Errorf("ParseCredential(%q, %v) = %+v, %v; want %+v ok=%v", tt.in, tt.load, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzParseCPUSet(f *testing.F) {
	f.Add("0-3 5,7")
	f.Fuzz(func(t *testing.T, s string) {
		set, err := ParseCPUSet(s)
		if err == nil && !slices.IsSorted(set) {
			t.Errorf("ParseCPUSet(%q) = %v: not sorted", s, set)
		}
	})
}

func FuzzParseCredential(f *testing.F) {
	f.Add("id:val\\n", false)
	f.Fuzz(func(t *testing.T, s string, load bool) {
		if c, err := ParseCredential(s, load); err == nil && c.ID == "" {
			t.Errorf("ParseCredential(%q) accepted an empty name", s)
		}
	})
}

// TestProcessDirectives types the process settings and reports a bad
// value by file:line.
func TestProcessDirectives(t *testing.T) {
	u := loadText(t, "p.service", `[Service]
ExecStart=/bin/a
IgnoreSIGPIPE=no
CPUAffinity=0-1
CPUAffinity=3
NUMAPolicy=interleave
NUMAMask=0
IOSchedulingClass=2
IOSchedulingPriority=6
CPUSchedulingPolicy=batch
CPUSchedulingResetOnFork=yes
Personality=x86
SecureBits=keep-caps noroot
TTYReset=yes
TTYVHangup=yes
ExecSearchPath=/opt/bin:/usr/bin
SetCredential=a:1
LoadCredential=b:/etc/hostname
Personality=vax
`)
	p := u.Service.Exec.Proc
	if !p.SIGPIPEDefault || !slices.Equal(p.CPUAffinity, []int{0, 1, 3}) || p.NUMAPolicy != "interleave" ||
		!slices.Equal(p.NUMAMask, []int{0}) || p.IOSchedulingClass != "best-effort" || *p.IOSchedulingPriority != 6 ||
		p.CPUSchedulingPolicy != "batch" || !p.CPUSchedulingResetOnFork || p.Personality != "x86" ||
		len(p.SecureBits) != 2 || !p.TTYReset || !p.TTYVHangup || !slices.Equal(p.ExecSearchPath, []string{"/opt/bin", "/usr/bin"}) ||
		len(p.Credentials) != 2 {
		t.Errorf("ProcContext = %+v", p)
	}
	if d := diagText(u); !matches(d, `p.service:19: Personality=vax: unknown value`) {
		t.Errorf("diags:\n%s", d)
	}
}

func matches(text, sub string) bool { return strings.Contains(text, sub) }

// TestOutputInheritsTerminalOrSocket: with StandardInput= a terminal, a
// socket or fd:, an unset StandardOutput= is "inherit" (systemd.exec(5)).
func TestOutputInheritsTerminalOrSocket(t *testing.T) {
	for in, want := range map[string]string{"socket": "inherit", "tty": "inherit", "fd:x": "inherit", "null": "", "data": ""} {
		u := loadText(t, "o.service", "[Service]\nExecStart=/bin/a\nStandardInput="+in+"\n")
		if got := u.Service.Exec.StandardOutput; got != want {
			t.Errorf("StandardInput=%s: StandardOutput %q; want %q", in, got, want)
		}
	}
}

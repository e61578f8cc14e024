package unit

import (
	"math"
	"testing"
	"time"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in    string
		sizes bool
		want  Amount
		ok    bool
	}{
		{"infinity", true, Amount{Infinity: true}, true},
		{"100M", true, Amount{Value: 100 << 20}, true},
		{"4096", true, Amount{Value: 4096}, true},
		{"25%", true, Amount{Percent: 25}, true},
		{"12", false, Amount{Value: 12}, true},
		{"12K", false, Amount{}, false},
		{"0%", true, Amount{}, false},
		{"101%", false, Amount{}, false},
		{"-1", true, Amount{}, false},
	}
	for _, tt := range tests {
		got, err := ParseAmount(tt.in, tt.sizes)
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseAmount(%q) = %+v, %v; want %+v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if got := (Amount{Percent: 50}).Resolve(1000); got != 500 {
		t.Errorf("50%% of 1000 = %d", got)
	}
	if got := (Amount{Infinity: true}).Resolve(1000); got != math.MaxUint64 {
		t.Errorf("infinity resolves to %d", got)
	}
}

func TestParseIODevice(t *testing.T) {
	tests := []struct {
		kind, in string
		want     IODevice
		ok       bool
	}{
		{"rbps", "/dev/sda 5M", IODevice{"/dev/sda", "rbps", 5_000_000}, true},
		{"wiops", "/var/lib 1K", IODevice{"/var/lib", "wiops", 1000}, true},
		{"rbps", "/dev/sda infinity", IODevice{"/dev/sda", "rbps", math.MaxUint64}, true},
		{"weight", "/dev/sda 200", IODevice{"/dev/sda", "weight", 200}, true},
		{"weight", "/dev/sda 0", IODevice{}, false},
		{"rbps", "sda 5M", IODevice{}, false},
		{"rbps", "/dev/sda", IODevice{}, false},
		{"rbps", "/dev/sda 5Q", IODevice{}, false},
	}
	for _, tt := range tests {
		got, err := ParseIODevice(tt.kind, tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseIODevice(%s, %q) = %+v, %v; want %+v ok=%v", tt.kind, tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzParseAmount(f *testing.F) {
	f.Add("10%", true)
	f.Fuzz(func(t *testing.T, s string, sizes bool) {
		if a, err := ParseAmount(s, sizes); err == nil && a.Percent > 100 {
			t.Errorf("ParseAmount(%q) = %+v: percentage above 100", s, a)
		}
	})
}

func FuzzParseIODevice(f *testing.F) {
	f.Add("rbps", "/dev/sda 5M")
	f.Fuzz(func(t *testing.T, kind, s string) {
		if d, err := ParseIODevice(kind, s); err == nil && (d.Path == "" || d.Path[0] != '/') {
			t.Errorf("ParseIODevice(%q) = %+v: path not absolute", s, d)
		}
	})
}

func TestResourceDirectives(t *testing.T) {
	u := loadText(t, "r.service", `[Service]
ExecStart=/bin/a
MemoryAccounting=yes
MemoryMax=64M
MemoryHigh=50%
MemorySwapMax=0
TasksMax=12
CPUQuota=150%
CPUQuotaPeriodSec=50ms
CPUWeight=idle
IOWeight=300
IOReadBandwidthMax=/dev/sda 1M
AllowedCPUs=0
CPUQuota=x
`)
	r := u.Service.Resources
	if r.MemoryMax.Value != 64<<20 || r.MemoryHigh.Percent != 50 || r.MemorySwapMax.Value != 0 || r.TasksMax.Value != 12 ||
		r.CPUQuota != 150 || r.CPUQuotaPeriod != 50*time.Millisecond || r.CPUWeight != 1 || r.IOWeight != 300 ||
		len(r.IODevices) != 1 || len(r.AllowedCPUs) != 1 {
		t.Errorf("Resources = %+v", r)
	}
	if d := diagText(u); !matches(d, "r.service:14: CPUQuota=x: invalid CPU quota") || matches(d, "not supported") {
		t.Errorf("diags:\n%s", d)
	}
}

package cli

import (
	"testing"

	"github.com/spf13/pflag"

	"github.com/tendproject/tend/internal/journal"
)

func TestJournalSizeFlags(t *testing.T) {
	tests := []struct {
		args []string
		want journal.Options
		bad  bool
	}{
		{args: nil},
		{args: []string{"--journal-max-use", "20M"}, want: journal.Options{MaxUse: 20 << 20}},
		{args: []string{"--journal-max-file-size", "256K"}, want: journal.Options{MaxFileSize: 256 << 10}},
		{args: []string{"--journal-keep-free", "1G", "--journal-per-unit-max-use", "1.5M"},
			want: journal.Options{KeepFree: 1 << 30, PerUnitMaxUse: 3 << 19}},
		{args: []string{"--journal-max-use=4096"}, want: journal.Options{MaxUse: 4096}},
		{args: []string{"--journal-max-use", "2T"}, want: journal.Options{MaxUse: 2 << 40}},
		{args: []string{"--journal-max-use", "10KB"}, want: journal.Options{MaxUse: 10 << 10}},
		{args: []string{"--journal-max-use", "lots"}, bad: true},
		{args: []string{"--journal-max-use", "-1"}, bad: true},
		{args: []string{"--journal-max-use", "1e3"}, bad: true},
		{args: []string{"--journal-max-use", "inf"}, bad: true},
		{args: []string{"--journal-max-use", "20Q"}, bad: true},
		{args: []string{"--journal-max-use", "9E"}, bad: true}, // beyond int64
		{args: []string{"--journal-max-use", ""}, bad: true},
	}
	for _, tt := range tests {
		var j journalFlags
		fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
		fs.SetOutput(discard{})
		j.register(fs)
		err := fs.Parse(tt.args)
		if tt.bad {
			if err == nil {
				t.Errorf("%q: accepted (%+v); want an error", tt.args, j.options())
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		got, w := j.options(), tt.want
		if got.MaxUse != w.MaxUse || got.KeepFree != w.KeepFree || got.MaxFileSize != w.MaxFileSize || got.PerUnitMaxUse != w.PerUnitMaxUse {
			t.Errorf("%q: got use %d, free %d, file %d, per unit %d; want %d, %d, %d, %d", tt.args,
				got.MaxUse, got.KeepFree, got.MaxFileSize, got.PerUnitMaxUse, w.MaxUse, w.KeepFree, w.MaxFileSize, w.PerUnitMaxUse)
		}
	}
}

func FuzzByteSize(f *testing.F) {
	for _, s := range []string{"20M", "256K", "1.5G", "0", "9E", "-1", "1e3", "NaN", " 7 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b byteSize
		if err := b.Set(s); err == nil && b < 0 {
			t.Fatalf("Set(%q) = %d; want a size >= 0", s, b)
		}
	})
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

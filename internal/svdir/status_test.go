package svdir

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Files written by Debian's runsv 2.1.2 (xxd of supervise/status).
func TestDecodeRunsvFiles(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want Status
	}{
		{"running", "40000000 6b0fc6bb 1086fec4 696f0000 00 75 00 01",
			Status{Since: time.Unix(0x6b0fc6bb-10, 0x1086fec4), PID: 28521, Want: WantUp, State: StateRun}},
		{"down after sv down", "40000000 6b0fc6bc 0621d10c 00000000 00 64 00 00",
			Status{Since: time.Unix(0x6b0fc6bc-10, 0x0621d10c), Want: WantDown, State: StateDown}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustHex(t, tt.hex)
			got, err := DecodeStatus(b)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Since.Equal(tt.want.Since) || got.PID != tt.want.PID || got.Want != tt.want.Want ||
				got.State != tt.want.State || got.Paused || got.Term {
				t.Errorf("DecodeStatus = %+v; want %+v", got, tt.want)
			}
			if enc := got.Encode(); !bytes.Equal(enc[:], b) {
				t.Errorf("Encode = %x; want %x", enc, b)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	since := time.Unix(1700000000, 123456789)
	tests := []struct {
		name string
		s    Status
		want string
	}{
		{"down want up", Status{Since: since}, "40000000 6553f10a 075bcd15 00000000 00 75 00 00"},
		{"run paused", Status{Since: since, PID: 0x01020304, Paused: true, State: StateRun},
			"40000000 6553f10a 075bcd15 04030201 01 75 00 01"},
		{"run got TERM want down", Status{Since: since, PID: 7, Term: true, Want: WantDown, State: StateRun},
			"40000000 6553f10a 075bcd15 07000000 00 64 01 01"},
		{"want exit is 'd'", Status{Since: since, PID: 7, Want: WantExit, State: StateFinish},
			"40000000 6553f10a 075bcd15 07000000 00 64 00 02"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.s.Encode()
			if want := mustHex(t, tt.want); !bytes.Equal(got[:], want) {
				t.Errorf("Encode = %x; want %x", got, want)
			}
		})
	}
}

func TestDecodeStatus(t *testing.T) {
	valid := "40000000 6553f10a 075bcd15 07000000 00 75"
	tests := []struct {
		name    string
		hex     string
		want    Status
		wantErr string
	}{
		{"daemontools up", valid, Status{PID: 7, Want: WantUp, State: StateRun}, ""},
		{"daemontools once", "40000000 6553f10a 075bcd15 07000000 01 00", Status{PID: 7, Paused: true, Want: WantDown, State: StateRun}, ""},
		{"daemontools down", "40000000 6553f10a 075bcd15 00000000 00 64", Status{Want: WantDown}, ""},
		{"flags are non-zero bytes", valid + "ff 02", Status{PID: 7, Term: true, Want: WantUp, State: StateFinish}, ""},
		{"short", "40000000 6553f10a", Status{}, "8 bytes"},
		{"19 bytes", valid + "00", Status{}, "19 bytes"},
		{"bad want", "40000000 6553f10a 075bcd15 07000000 00 78", Status{}, "want byte"},
		{"bad state", valid + "00 03", Status{}, "state byte 3"},
		{"not TAI64", "00000000 6553f10a 075bcd15 07000000 00 75", Status{}, "not a TAI64"},
		{"reserved TAI64", "80000000 6553f10a 075bcd15 07000000 00 75", Status{}, "not a TAI64"},
		{"nanoseconds", "40000000 6553f10a 3b9aca00 07000000 00 75", Status{}, "nanoseconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeStatus(mustHex(t, tt.hex))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("DecodeStatus error = %v; want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.Since = time.Time{}
			if got != tt.want {
				t.Errorf("DecodeStatus = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestStat(t *testing.T) {
	tests := []struct {
		s    Status
		want string
	}{
		{Status{}, "down\n"},
		{Status{Want: WantDown}, "down\n"}, // runsv says "want" only while not down
		{Status{State: StateRun, PID: 1}, "run\n"},
		{Status{State: StateRun, PID: 1, Paused: true, Term: true, Want: WantDown}, "run, paused, got TERM, want down\n"},
		{Status{State: StateFinish, PID: 1, Want: WantExit}, "finish, want exit\n"},
		{Status{State: StateDown, Paused: true}, "down, paused\n"},
	}
	for _, tt := range tests {
		if got := tt.s.Stat(); got != tt.want {
			t.Errorf("%+v.Stat() = %q; want %q", tt.s, got, tt.want)
		}
		back, err := ParseStat(tt.want)
		if err != nil {
			t.Errorf("ParseStat(%q): %v", tt.want, err)
			continue
		}
		if back.Stat() != tt.want {
			t.Errorf("ParseStat(%q).Stat() = %q", tt.want, back.Stat())
		}
	}
	for _, bad := range []string{"", "\n", "up\n", "run, \n", "run,want down\n", "run, want up\n", "down, want down\n",
		"run, paused, paused\n", "run\nrun\n", "run, want down, want exit\n"} {
		if s, err := ParseStat(bad); err == nil {
			t.Errorf("ParseStat(%q) = %+v; want an error", bad, s)
		}
	}
}

func FuzzDecodeStatus(f *testing.F) {
	f.Add(mustHex(f, "40000000 6b0fc6bb 1086fec4 696f0000 00 75 00 01"))
	f.Add(mustHex(f, "40000000 6553f10a 075bcd15 07000000 00 64"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeStatus(b)
		if err != nil {
			return
		}
		enc := s.Encode()
		again, err := DecodeStatus(enc[:])
		if err != nil {
			t.Fatalf("decoding our encoding %x of %+v: %v", enc, s, err)
		}
		if !again.Since.Equal(s.Since) || again.PID != s.PID || again.Paused != s.Paused ||
			again.Want != s.Want || again.State != s.State || again.Term != s.Term {
			t.Fatalf("round trip %+v → %+v", s, again)
		}
		if len(b) == StatusSize && !bytes.Equal(enc[:12], b[:12]) {
			t.Fatalf("timestamp %x re-encoded as %x", b[:12], enc[:12])
		}
	})
}

func FuzzParseStat(f *testing.F) {
	for _, s := range []string{"run\n", "down\n", "run, paused, got TERM, want down\n", "finish, want exit\n", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseStat(text)
		if err != nil {
			return
		}
		again, err := ParseStat(s.Stat())
		if err != nil || again != s {
			t.Fatalf("ParseStat(%q) = %+v, whose Stat %q reads back as %+v, %v", text, s, s.Stat(), again, err)
		}
	})
}

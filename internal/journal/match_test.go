package journal

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseMatches(t *testing.T) {
	tests := []struct {
		in   string
		want [][]fieldAlt // groups
		bad  string       // substring of the error
	}{
		{in: "", want: nil},
		{in: "_PID=12", want: [][]fieldAlt{{{"_PID", []string{"12"}}}}},
		{in: "_PID=12 _PID=13 PRIORITY=3", want: [][]fieldAlt{{{"_PID", []string{"12", "13"}}, {"PRIORITY", []string{"3"}}}}},
		{in: "_PID=1 + SYSLOG_IDENTIFIER=x", want: [][]fieldAlt{{{"_PID", []string{"1"}}}, {{"SYSLOG_IDENTIFIER", []string{"x"}}}}},
		{in: "_PID=", want: [][]fieldAlt{{{"_PID", []string{""}}}}},
		{in: "MESSAGE=a=b", want: [][]fieldAlt{{{"MESSAGE", []string{"a=b"}}}}},
		{in: "/usr/bin//sshd", want: [][]fieldAlt{{{"_EXE", []string{"/usr/bin/sshd"}}}}},
		{in: "+", bad: `"+" can only be used between terms`},
		{in: "+ _PID=1", bad: `"+" can only be used between terms`},
		{in: "_PID=1 +", bad: `"+" can only be used between terms`},
		{in: "_PID=1 + + _PID=2", bad: `"+" can only be used between terms`},
		{in: "foo=bar", bad: "failed to add match"},
		{in: "=x", bad: "failed to add match"},
		{in: "relative", bad: "failed to add match"},
		{in: "__CURSOR=x", bad: "failed to add match"},
		{in: "1ABC=x", bad: "failed to add match"},
		{in: strings.Repeat("A", 65) + "=x", bad: "failed to add match"},
	}
	for _, tt := range tests {
		m, err := ParseMatches(strings.Fields(tt.in))
		if tt.bad != "" {
			if err == nil || !strings.Contains(err.Error(), tt.bad) {
				t.Errorf("ParseMatches(%q): error %v; want one with %q", tt.in, err, tt.bad)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseMatches(%q): %v", tt.in, err)
			continue
		}
		var got [][]fieldAlt
		for _, g := range m.groups {
			got = append(got, []fieldAlt(g))
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseMatches(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

// FuzzParseMatches: the parser never panics, accepts only words that are
// "+" or name a valid field or a path, and an accepted expression's
// Match agrees with recordField's view of the same entry.
func FuzzParseMatches(f *testing.F) {
	f.Add("_PID=12 _PID=13 + SYSLOG_IDENTIFIER=x", "x", 12)
	f.Add("+ foo", "", 0)
	f.Add("/bin/sh MESSAGE=a\x00b", "a\x00b", 1)
	f.Fuzz(func(t *testing.T, expr, ident string, pid int) {
		words := strings.Fields(expr)
		m, err := ParseMatches(words)
		if err != nil {
			return
		}
		for _, w := range words {
			if w == "+" || strings.HasPrefix(w, "/") {
				continue
			}
			name, _, ok := strings.Cut(w, "=")
			if !ok || !ValidFieldName(name) {
				t.Fatalf("accepted bad word %q", w)
			}
		}
		e := Entry{Seq: 1, Unit: "u.service", PID: pid & 0xffff, UID: 0, Identifier: ident, Message: []byte(ident)}
		r := &rec{seq: 1, pid: uint32(e.PID), uid: 0, ident: []byte(ident), msg: e.Message}
		var scratch []byte
		byRec := m.match(func(f string) ([]byte, bool) { return recordField(f, r, e.Unit, e.BootID, "", &scratch) })
		if byEntry := m.Match(e, ""); byRec != byEntry {
			t.Fatalf("%q: record says %v, entry says %v", expr, byRec, byEntry)
		}
	})
}

func TestQueryMatches(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	j, err := Open(Options{Dir: dir, MaxUse: 1 << 30, KeepFree: -1, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Entry{
		{Unit: "a.service", PID: 10, UID: 0, Priority: 6, Identifier: "alpha", Message: []byte("a1")},
		{Unit: "b.service", PID: 20, UID: 33, Priority: 3, Identifier: "beta", Message: []byte("b1")},
		{Unit: "a.service", PID: 11, UID: 0, Priority: 4, Identifier: "alpha", Message: []byte("a2")},
		{Unit: "", PID: 30, UID: -1, Priority: 6, Identifier: "gamma", Stream: StreamSyslog, Message: []byte("g1")},
	} {
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	defer j.Close()
	tests := []struct {
		matches [][]string
		want    string
	}{
		{nil, "a1 b1 a2 g1"},
		{[][]string{{"_PID=10"}}, "a1"},
		{[][]string{{"_PID=10", "_PID=20"}}, "a1 b1"},
		{[][]string{{"_PID=10", "_PID=11", "PRIORITY=4"}}, "a2"},
		{[][]string{{"_PID=10", "+", "PRIORITY=3"}}, "a1 b1"},
		{[][]string{{"_SYSTEMD_UNIT=a.service"}}, "a1 a2"},
		{[][]string{{"SYSLOG_IDENTIFIER=gamma"}}, "g1"},
		{[][]string{{"_TRANSPORT=syslog"}}, "g1"},
		{[][]string{{"_UID=33"}}, "b1"},
		{[][]string{{"_UID=0"}, {"SYSLOG_IDENTIFIER=alpha", "SYSLOG_IDENTIFIER=beta"}}, "a1 a2"},
		{[][]string{{"_COMM=alpha"}}, ""},
		{[][]string{{"MESSAGE=b1"}}, "b1"},
		{[][]string{{"_TRANSPORT=kernel"}}, ""},
	}
	for _, tt := range tests {
		var got []string
		err := j.Query(context.Background(), Query{Matches: tt.matches}, func(e Entry) error {
			got = append(got, string(e.Message))
			return nil
		})
		if err != nil || strings.Join(got, " ") != tt.want {
			t.Errorf("matches %q: got %q, %v; want %q", tt.matches, got, err, tt.want)
		}
	}
	if err := CheckQuery(Query{Matches: [][]string{{"bad"}}}); err == nil {
		t.Error("CheckQuery accepted a bad match")
	}
	vals, err := j.FieldValues(context.Background(), Query{}, "SYSLOG_IDENTIFIER", "", nil)
	if err != nil || strings.Join(vals, " ") != "alpha beta gamma" {
		t.Errorf("FieldValues = %q, %v", vals, err)
	}
	vals, _ = j.FieldValues(context.Background(), Query{}, "_SYSTEMD_UNIT", "", func(e Entry) bool { return e.UID == 0 })
	if strings.Join(vals, " ") != "a.service" {
		t.Errorf("FieldValues with a filter = %q; want a.service", vals)
	}
}

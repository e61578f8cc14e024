package syslog

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

var testNow = time.Date(2026, time.November, 22, 4, 0, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	tsLocal := time.Date(2026, time.November, 22, 3, 44, 1, 0, time.UTC)
	ts5424 := time.Date(2026, time.November, 22, 3, 59, 47, 687415000, time.UTC)
	tests := []struct {
		name string
		in   string
		want Message
	}{
		{"glibc local form", "<13>Nov 22 03:44:01 tag[123]: msg",
			Message{Facility: 1, Severity: 5, Time: tsLocal, AppName: "tag", ProcID: "123", Msg: []byte("msg"), Format: FormatRFC3164}},
		{"logger local form", "<13>Nov 22 03:44:01 mytag: hello plain",
			Message{Facility: 1, Severity: 5, Time: tsLocal, AppName: "mytag", Msg: []byte("hello plain"), Format: FormatRFC3164}},
		{"3164 with hostname", "<34>Nov 22 03:44:01 mymachine su[42]: 'su root' failed",
			Message{Facility: 4, Severity: 2, Time: tsLocal, Hostname: "mymachine", AppName: "su", ProcID: "42", Msg: []byte("'su root' failed"), Format: FormatRFC3164}},
		{"3164 tag without colon after hostname", "<13>Nov 22 03:44:01 host app text",
			Message{Facility: 1, Severity: 5, Time: tsLocal, Hostname: "host", AppName: "app", Msg: []byte("text"), Format: FormatRFC3164}},
		{"3164 hostname only", "<13>Nov 22 03:44:01 host text",
			Message{Facility: 1, Severity: 5, Time: tsLocal, Hostname: "host", Msg: []byte("text"), Format: FormatRFC3164}},
		{"3164 space-padded day", "<13>Nov  2 03:44:01 t: x",
			Message{Facility: 1, Severity: 5, Time: time.Date(2026, 11, 2, 3, 44, 1, 0, time.UTC), AppName: "t", Msg: []byte("x"), Format: FormatRFC3164}},
		{"3164 December read in January", "<13>Dec 31 23:59:59 t: x",
			Message{Facility: 1, Severity: 5, Time: time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC), AppName: "t", Msg: []byte("x"), Format: FormatRFC3164}},
		{"3164 rfc3339 stamp", "<13>2026-11-22T03:44:01Z host app[7]: m",
			Message{Facility: 1, Severity: 5, Time: tsLocal, Hostname: "host", AppName: "app", ProcID: "7", Msg: []byte("m"), Format: FormatRFC3164}},
		{"3164 trailing newline and NUL", "<13>Nov 22 03:44:01 t: x\n\x00",
			Message{Facility: 1, Severity: 5, Time: tsLocal, AppName: "t", Msg: []byte("x"), Format: FormatRFC3164}},
		{"tag without timestamp", "<11>sshd[9]: bad",
			Message{Facility: 1, Severity: 3, AppName: "sshd", ProcID: "9", Msg: []byte("bad"), Format: FormatRFC3164}},
		{"missing PRI", "Nov 22 03:44:01 t: x",
			Message{Facility: 1, Severity: 5, Time: tsLocal, AppName: "t", Msg: []byte("x"), Format: FormatRFC3164}},
		{"5424 from logger", `<13>1 2026-11-22T03:59:47.687415+00:00 vm mytag 15212 - [timeQuality tzKnown="1" isSynced="0"] hello 5424`,
			Message{Facility: 1, Severity: 5, Time: ts5424, Hostname: "vm", AppName: "mytag", ProcID: "15212",
				StructuredData: `[timeQuality tzKnown="1" isSynced="0"]`, Msg: []byte("hello 5424"), Format: FormatRFC5424}},
		{"5424 all nil", "<0>1 - - - - - -",
			Message{Format: FormatRFC5424}},
		{"5424 BOM and escapes", "<165>1 2003-10-11T22:14:15.003Z host app - ID47 [ex@32473 a=\"x\\\"y\\]z\\\\\"][b c=\"\"] \xEF\xBB\xBFtext",
			Message{Facility: 20, Severity: 5, Time: time.Date(2003, 10, 11, 22, 14, 15, 3000000, time.UTC), Hostname: "host", AppName: "app", MsgID: "ID47",
				StructuredData: `[ex@32473 a="x\"y\]z\\"][b c=""]`, Msg: []byte("text"), Format: FormatRFC5424}},
		{"5424 bad SD falls back to raw", `<13>1 - h a p m [broken msg`,
			Message{Facility: 1, Severity: 5, Msg: []byte(`1 - h a p m [broken msg`), Format: FormatRaw}},
		{"raw text", "hello world",
			Message{Facility: 1, Severity: 5, Msg: []byte("hello world"), Format: FormatRaw}},
		{"invalid PRI kept in text", "<192>hello world",
			Message{Facility: 1, Severity: 5, Msg: []byte("<192>hello world"), Format: FormatRaw}},
		{"leading zero PRI invalid", "<013>x y",
			Message{Facility: 1, Severity: 5, Msg: []byte("<013>x y"), Format: FormatRaw}},
		{"Feb 30 is not a date", "<13>Feb 30 03:44:01 t: x",
			Message{Facility: 1, Severity: 5, Msg: []byte("Feb 30 03:44:01 t: x"), Format: FormatRaw}},
		{"PRI only", "<13>",
			Message{Facility: 1, Severity: 5, Msg: []byte{}, Format: FormatRaw}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in), testNowFor(tt.name))
			if err != nil {
				t.Fatalf("Parse(%q) error %v", tt.in, err)
			}
			if !sameMessage(got, tt.want) {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}

// testNowFor moves "now" into January for the year-rollover case.
func testNowFor(name string) time.Time {
	if name == "3164 December read in January" {
		return time.Date(2026, 1, 1, 0, 5, 0, 0, time.UTC)
	}
	return testNow
}

func sameMessage(a, b Message) bool {
	return a.Facility == b.Facility && a.Severity == b.Severity && a.Time.Equal(b.Time) &&
		a.Hostname == b.Hostname && a.AppName == b.AppName && a.ProcID == b.ProcID &&
		a.MsgID == b.MsgID && a.StructuredData == b.StructuredData &&
		bytes.Equal(a.Msg, b.Msg) && a.Format == b.Format
}

func TestParseEmpty(t *testing.T) {
	for _, in := range []string{"", "\n", "\x00\r\n"} {
		if _, err := Parse([]byte(in), testNow); !errors.Is(err, ErrEmpty) {
			t.Errorf("Parse(%q) error %v; want ErrEmpty", in, err)
		}
	}
}

func TestAppend5424RoundTrip(t *testing.T) {
	m := Message{Facility: 3, Severity: 6, Time: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("", 3600)),
		Hostname: "h", AppName: "a", ProcID: "1", MsgID: "m", StructuredData: `[x y="\]"]`,
		Msg: []byte("\xEF\xBB\xBFstarts with a BOM"), Format: FormatRFC5424}
	out := Append5424(nil, m)
	got, err := Parse(out, testNow)
	if err != nil || !sameMessage(got, m) {
		t.Fatalf("Parse(Append5424(m)) = %+v, %v; want %+v (wire %q)", got, err, m, out)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"<13>Nov 22 03:44:01 tag[123]: msg", "<34>Nov 22 03:44:01 host su: x",
		`<165>1 2003-10-11T22:14:15.003Z host app - ID47 [ex@32473 a="x\"y"] ` + "\xEF\xBB\xBFtext",
		"<0>1 - - - - - -", "plain", "<13>", "<13>1 ", "<7>Feb 29 00:00:00 a: b",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		m, err := Parse(b, testNow)
		if !bytes.Equal(in, b) {
			t.Fatalf("Parse modified its input")
		}
		if err != nil {
			if len(trimTrailer(b)) != 0 {
				t.Fatalf("Parse(%q) error %v for a non-empty packet", b, err)
			}
			return
		}
		if m.Facility < 0 || m.Facility > 23 || m.Severity < 0 || m.Severity > 7 {
			t.Fatalf("Parse(%q) PRI out of range: %+v", b, m)
		}
		if m.Format == FormatRaw && !bytes.HasSuffix(trimTrailer(b), m.Msg) {
			t.Fatalf("raw Parse(%q) lost text: msg %q", b, m.Msg)
		}
		if m.Format != FormatRFC5424 {
			return
		}
		out := Append5424(nil, m)
		m2, err := Parse(out, testNow)
		if err != nil || !sameMessage(m, m2) {
			t.Fatalf("round trip of %q via %q:\n got %+v, %v\nwant %+v", b, out, m2, err, m)
		}
	})
}

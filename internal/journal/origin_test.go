package journal

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestOriginRoundTrip(t *testing.T) {
	j := openTest(t, nil)
	sent := time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.UTC)
	o := Origin{Hostname: "web7", Address: "192.0.2.7", Time: sent, MsgID: "ID47",
		StructuredData: `[exampleSDID@32473 iut="3" eventSource="App\"lication"]`}
	j.Append(Entry{Stream: StreamSyslog, Identifier: "app", Priority: PriInfo, Origin: o, Message: []byte("remote")})
	j.Append(Entry{Stream: StreamSyslog, Identifier: "app", Priority: PriInfo, Message: []byte("local")})
	all := collect(t, j, Query{})
	if len(all) != 2 {
		t.Fatalf("got %d entries; want 2", len(all))
	}
	if got := all[0].Origin; !got.Time.Equal(sent) || got.Hostname != o.Hostname || got.Address != o.Address ||
		got.MsgID != o.MsgID || got.StructuredData != o.StructuredData {
		t.Errorf("origin: got %+v; want %+v", got, o)
	}
	if string(all[0].Message) != "remote" || !all[1].Origin.IsZero() {
		t.Errorf("got %q with %+v after it", all[0].Message, all[1].Origin)
	}
	for _, tt := range []struct {
		match string
		want  []string
	}{
		{"_HOSTNAME=web7", []string{"remote"}},
		{"SYSLOG_MSGID=ID47", []string{"remote"}},
		{"TEND_SOURCE_ADDRESS=192.0.2.7", []string{"remote"}},
		{"SYSLOG_TIMESTAMP=2026-03-04T05:06:07.89Z", []string{"remote"}},
	} {
		got := messages(collect(t, j, Query{Matches: [][]string{{tt.match}}}))
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s: got %q; want %q", tt.match, got, tt.want)
		}
	}
	var b bytes.Buffer
	if err := Format(&b, all[0], "json", FormatOptions{Hostname: "local"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"_HOSTNAME":"web7"`, `"SYSLOG_MSGID":"ID47"`, `"TEND_SOURCE_ADDRESS":"192.0.2.7"`,
		`"SYSLOG_STRUCTURED_DATA":"[exampleSDID@32473 iut=\"3\" eventSource=\"App\\\"lication\"]"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("json %s lacks %s", b.String(), want)
		}
	}
	b.Reset()
	Format(&b, all[0], "short", FormatOptions{Hostname: "local", Location: time.UTC})
	if !strings.Contains(b.String(), " web7 app: remote") {
		t.Errorf("short: got %q; want the remote host name", b.String())
	}
}

func TestOriginCutToBounds(t *testing.T) {
	o := Origin{Hostname: strings.Repeat("h", 1000), StructuredData: strings.Repeat("[x]", 20000)}
	ext := o.encode()
	if len(ext) > maxExtLen {
		t.Fatalf("ext is %d bytes; bound %d", len(ext), maxExtLen)
	}
	got := decodeOrigin(ext)
	if len(got.Hostname) != maxHostLen || len(got.StructuredData) != maxSDLen {
		t.Errorf("got host %d, sd %d bytes; want %d, %d", len(got.Hostname), len(got.StructuredData), maxHostLen, maxSDLen)
	}
}

func FuzzDecodeOrigin(f *testing.F) {
	f.Add(Origin{Hostname: "a", MsgID: "m", Time: time.Unix(1, 0)}.encode())
	f.Add([]byte{1, 0xff, 0xff, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		// Decoding never fails; once cut to bounds, a value round-trips.
		o := decodeOrigin(decodeOrigin(b).encode())
		if again := decodeOrigin(o.encode()); again.Hostname != o.Hostname || again.MsgID != o.MsgID ||
			again.StructuredData != o.StructuredData || again.Address != o.Address || !again.Time.Equal(o.Time) {
			t.Fatalf("%+v re-decodes as %+v", o, again)
		}
	})
}

// TestAppendBatch stores a batch mixing units: every entry is there once,
// in the batch's order, each under its unit.
func TestAppendBatch(t *testing.T) {
	j := openTest(t, nil)
	var es []Entry
	for i, u := range []string{"a.service", "a.service", "", "b.service", "a.service"} {
		es = append(es, Entry{Unit: u, Stream: StreamSyslog, Message: []byte{'m', byte('0' + i)}})
	}
	if err := j.AppendBatch(es); err != nil {
		t.Fatal(err)
	}
	all := collect(t, j, Query{})
	var got []string
	for _, e := range all {
		got = append(got, e.Unit+":"+string(e.Message))
	}
	if want := "a.service:m0 a.service:m1 :m2 b.service:m3 a.service:m4"; strings.Join(got, " ") != want {
		t.Errorf("got %s; want %s", strings.Join(got, " "), want)
	}
}

package journal

import (
	"bytes"
	"testing"
	"time"
)

// TestFormatModes checks each journalctl mode's exact text for a fixed
// entry (formats as journalctl(1) and systemd's output code define them).
func TestFormatModes(t *testing.T) {
	o := FormatOptions{Hostname: "host", Location: time.UTC}
	e := sampleEntry()
	cur := FormatCursor(e)
	tests := []struct{ mode, want string }{
		{"short-full", "Sun 2026-11-22 03:04:05 UTC host web[123]: it failed\n"},
		{"short-iso-precise", "2026-11-22T03:04:05.678901+0000 host web[123]: it failed\n"},
		{"short-monotonic", "[    1.500000] host web[123]: it failed\n"},
		{"short-unix", "1795316645.678901 host web[123]: it failed\n"},
		{"with-unit", "Sun 2026-11-22 03:04:05 UTC host web.service[123]: it failed\n"},
		{"verbose", "Sun 2026-11-22 03:04:05.678901 UTC [" + cur + "]\n" +
			"    _BOOT_ID=bootid\n    _HOSTNAME=host\n    _TRANSPORT=stdout\n    TEND_STREAM=stderr\n" +
			"    _SYSTEMD_UNIT=web.service\n    _PID=123\n    _UID=33\n    PRIORITY=3\n    SYSLOG_FACILITY=3\n" +
			"    SYSLOG_IDENTIFIER=web\n    MESSAGE=it failed\n"},
		{"json-sse", `data: {"__CURSOR":"` + cur + `","__REALTIME_TIMESTAMP":"1795316645678901","__MONOTONIC_TIMESTAMP":"1500000","__SEQNUM":"42","_BOOT_ID":"bootid","_HOSTNAME":"host","_TRANSPORT":"stdout","TEND_STREAM":"stderr","_SYSTEMD_UNIT":"web.service","_PID":"123","_UID":"33","PRIORITY":"3","SYSLOG_FACILITY":"3","SYSLOG_IDENTIFIER":"web","MESSAGE":"it failed"}` + "\n\n"},
		{"json-seq", "\x1e" + `{"__CURSOR":"` + cur + `","__REALTIME_TIMESTAMP":"1795316645678901","__MONOTONIC_TIMESTAMP":"1500000","__SEQNUM":"42","_BOOT_ID":"bootid","_HOSTNAME":"host","_TRANSPORT":"stdout","TEND_STREAM":"stderr","_SYSTEMD_UNIT":"web.service","_PID":"123","_UID":"33","PRIORITY":"3","SYSLOG_FACILITY":"3","SYSLOG_IDENTIFIER":"web","MESSAGE":"it failed"}` + "\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := Format(&b, e, tt.mode, o); err != nil {
			t.Fatal(err)
		}
		if b.String() != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.mode, b.String(), tt.want)
		}
	}
}

func TestFormatOutputFields(t *testing.T) {
	e := sampleEntry()
	e.Message = []byte("line one\nline two")
	o := FormatOptions{Hostname: "host", Location: time.UTC, OutputFields: []string{"MESSAGE", "_PID"}}
	var b bytes.Buffer
	Format(&b, e, "verbose", o)
	want := "Sun 2026-11-22 03:04:05.678901 UTC [" + FormatCursor(e) + "]\n    _PID=123\n    MESSAGE=line one\n            line two\n"
	if b.String() != want {
		t.Errorf("verbose with --output-fields:\n got %q\nwant %q", b.String(), want)
	}
	b.Reset()
	Format(&b, e, "json", o)
	want = `{"__CURSOR":"` + FormatCursor(e) + `","__REALTIME_TIMESTAMP":"1795316645678901","__MONOTONIC_TIMESTAMP":"1500000","__SEQNUM":"42","_BOOT_ID":"bootid","_PID":"123","MESSAGE":"line one\nline two"}` + "\n"
	if b.String() != want {
		t.Errorf("json with --output-fields:\n got %q\nwant %q", b.String(), want)
	}
	b.Reset()
	e.Message = []byte("bin\x00")
	Format(&b, e, "verbose", FormatOptions{Location: time.UTC, OutputFields: []string{"MESSAGE"}})
	if want := "    MESSAGE=[4B blob data]\n"; !bytes.HasSuffix(b.Bytes(), []byte(want)) {
		t.Errorf("verbose binary value: %q; want suffix %q", b.String(), want)
	}
}

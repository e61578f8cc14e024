package journal

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
)

func sampleEntry() Entry {
	return Entry{
		Seq: 42, Realtime: time.Date(2026, 11, 22, 3, 4, 5, 678901000, time.UTC), Monotonic: 1500 * time.Millisecond,
		BootID: "bootid", Unit: "web.service", PID: 123, UID: 33, Priority: PriErr, Facility: 3,
		Identifier: "web", Stream: StreamStderr, Message: []byte("it failed"),
	}
}

func TestFormatText(t *testing.T) {
	o := FormatOptions{Hostname: "host", Location: time.UTC}
	tests := []struct{ mode, want string }{
		{"short", "Nov 22 03:04:05 host web[123]: it failed\n"},
		{"short-iso", "2026-11-22T03:04:05+0000 host web[123]: it failed\n"},
		{"short-precise", "Nov 22 03:04:05.678901 host web[123]: it failed\n"},
		{"cat", "it failed\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if err := Format(&b, sampleEntry(), tt.mode, o); err != nil {
			t.Fatal(err)
		}
		if b.String() != tt.want {
			t.Errorf("%s: got %q; want %q", tt.mode, b.String(), tt.want)
		}
	}
	e := sampleEntry()
	e.Message = []byte("bin\x00ary")
	var b bytes.Buffer
	Format(&b, e, "short", o)
	if !strings.HasSuffix(b.String(), "web[123]: [7B blob data]\n") {
		t.Errorf("binary message shown as %q", b.String())
	}
	b.Reset()
	Format(&b, e, "short", FormatOptions{All: true, Location: time.UTC})
	if !strings.HasSuffix(b.String(), "web[123]: bin\x00ary\n") {
		t.Errorf("--all shows %q", b.String())
	}
	if err := Format(&b, e, "nope", o); err == nil {
		t.Error("unknown mode accepted")
	}
}

func TestFormatJSONHasEveryField(t *testing.T) {
	e := sampleEntry()
	e.Partial = true
	for _, mode := range []string{"json", "json-pretty"} {
		var b bytes.Buffer
		Format(&b, e, mode, FormatOptions{Hostname: "host"})
		var m map[string]any
		if err := json.Unmarshal(b.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v in %s", mode, err, b.String())
		}
		want := map[string]any{
			"__CURSOR": FormatCursor(e), "__REALTIME_TIMESTAMP": strconv.FormatInt(e.Realtime.UnixMicro(), 10), "__MONOTONIC_TIMESTAMP": "1500000",
			"__SEQNUM": "42", "_BOOT_ID": "bootid", "_HOSTNAME": "host", "_SYSTEMD_UNIT": "web.service", "_PID": "123",
			"_UID": "33", "PRIORITY": "3", "SYSLOG_FACILITY": "3", "SYSLOG_IDENTIFIER": "web", "_TRANSPORT": "stdout",
			"TEND_STREAM": "stderr", "_LINE_BREAK": "line-max", "MESSAGE": "it failed",
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("%s: %s = %v; want %v", mode, k, m[k], v)
			}
		}
	}
	e.Message = []byte{0xff, 'a'}
	var b bytes.Buffer
	Format(&b, e, "json", FormatOptions{})
	var m map[string]any
	json.Unmarshal(b.Bytes(), &m)
	if arr, ok := m["MESSAGE"].([]any); !ok || len(arr) != 2 || arr[0] != 255.0 {
		t.Errorf("binary MESSAGE = %v; want byte array", m["MESSAGE"])
	}
}

// parseExport reads the export format back into field maps.
func parseExport(t *testing.T, r io.Reader) []map[string]string {
	br := bufio.NewReader(r)
	var out []map[string]string
	cur := map[string]string{}
	for {
		line, err := br.ReadString('\n')
		if err == io.EOF {
			return out
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			out = append(out, cur)
			cur = map[string]string{}
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			cur[k] = v
			continue
		}
		var n uint64
		binary.Read(br, binary.LittleEndian, &n)
		v := make([]byte, n+1)
		io.ReadFull(br, v)
		cur[line] = string(v[:n])
	}
}

func TestFormatExport(t *testing.T) {
	var b bytes.Buffer
	e := sampleEntry()
	Format(&b, e, "export", FormatOptions{})
	e.Message = []byte("two\nlines\x00")
	Format(&b, e, "export", FormatOptions{})
	got := parseExport(t, &b)
	if len(got) != 2 || got[0]["MESSAGE"] != "it failed" || got[1]["MESSAGE"] != "two\nlines\x00" || got[1]["_PID"] != "123" {
		t.Fatalf("export round trip: %q", got)
	}
}

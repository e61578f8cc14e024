package journal

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func seedSegment() []byte {
	b := appendSegHeader(nil, segHeader{boot: "boot", unit: "u.service", created: 1})
	for i, m := range []string{"hello", "", "bin\x00\xff", "a longer line of text"} {
		b = appendRecord(b, &rec{seq: uint64(i + 1), rt: int64(i), pri: uint8(i), stream: uint8(i % 4), ident: []byte("id"), msg: []byte(m)})
	}
	// "one", "", "two, cut" (partial), "long …", "end" (bare)
	text := "one\n\ntwo, cut" + strings.Repeat("long ", 40) + "\nend"
	h := rec{seq: 5, rt: 9, mono: 8, pid: 7, pri: 6, ident: []byte("b")}
	return appendBatch(b, &h, []uint64{13<<1 | 1, uint64(len(text)) << 1}, []byte(text))
}

// appendBatch encodes a whole batch frame onto dst (see appendBatchHead).
func appendBatch(dst []byte, h *rec, cuts []uint64, text []byte) []byte {
	start := len(dst)
	dst = append(appendBatchHead(dst, h, cuts), text...)
	return sealFrame(dst, start)
}

// reencodeBatch encodes the decoded lines of one batch frame again.
func reencodeBatch(lines []rec) []byte {
	var text []byte
	var cuts []uint64
	for _, l := range lines {
		text = append(text, l.msg...)
		switch {
		case l.flags&flagPartial != 0:
			cuts = append(cuts, uint64(len(text))<<1|1)
		case l.flags&flagBare != 0:
			cuts = append(cuts, uint64(len(text))<<1)
		default:
			text = append(text, '\n')
		}
	}
	return appendBatch(nil, &lines[0], cuts, text)
}

// FuzzDecode feeds arbitrary bytes to the segment decoder: it must not
// panic, every record it accepts must re-encode to exactly the bytes it
// came from, and records and skipped regions must tile the input in order.
func FuzzDecode(f *testing.F) {
	seg := seedSegment()
	f.Add(seg)
	f.Add(seg[:len(seg)-3])
	corrupt := bytes.Clone(seg)
	corrupt[len(corrupt)/2] ^= 0xff
	f.Add(corrupt)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		start := 0
		if _, n, err := parseSegHeader(data); err == nil {
			start = n
		}
		next := int64(start)
		var lines []rec // of the batch being decoded
		decodeRange(data[start:], int64(start), func(r *rec) bool {
			if r.off != next {
				t.Fatalf("record at %d; expected %d", r.off, next)
			}
			lines = append(lines, *r)
			if r.inner {
				return true
			}
			var again []byte
			if data[r.off+frameHdr+35] == flagBatch {
				again = reencodeBatch(lines)
			} else {
				again = appendRecord(nil, r)
			}
			if !bytes.Equal(again, data[r.off:r.off+int64(r.size)]) {
				t.Fatalf("frame at %d does not re-encode to its bytes", r.off)
			}
			for i := range lines {
				if lines[i].seq != lines[0].seq+uint64(i) {
					t.Fatalf("batch at %d: line %d has seq %d", r.off, i, lines[i].seq)
				}
			}
			lines = lines[:0]
			next = r.off + int64(r.size)
			return true
		}, func(off, n int64, reason string) {
			if off != next || n <= 0 {
				t.Fatalf("damage at %d+%d; expected at %d", off, n, next)
			}
			next = off + n
		})
		if next != int64(len(data)) {
			t.Fatalf("decoder covered %d of %d bytes", next, len(data))
		}
	})
}

// FuzzIndex: a corrupt index is rejected or yields blocks, never panics.
func FuzzIndex(f *testing.F) {
	s := &segment{path: filepath.Join(f.TempDir(), "x.seg"), size: 100, blocks: []block{{off: 20, firstSeq: 1, lastSeq: 3, count: 3}}}
	writeIndex(s)
	good, _ := os.ReadFile(indexPath(s.path))
	f.Add(good)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "y.seg")
		os.WriteFile(indexPath(p), data, 0o600)
		if blocks, size, ok := readIndex(p, 1<<40); ok && size < 0 && len(blocks) > 0 {
			t.Fatalf("negative size %d accepted", size)
		}
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"now", "-1h", "2026-01-02 03:04:05.5 UTC", "1 hour ago", "@12.5", "Mon 11:00"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		ParseTime(s, now, time.UTC)
		ParseSpan(s)
		ParseCursor(s)
		levelPrefix([]byte(s))
	})
}

// FuzzGrep checks the fast literal matchers against the regexp engine.
func FuzzGrep(f *testing.F) {
	f.Add("Error", []byte("an ERROR here"), false)
	f.Add("id=1", []byte("x ID=1"), true)
	f.Add("ab.c", []byte("AB-C"), false)
	f.Fuzz(func(t *testing.T, pat string, msg []byte, cs bool) {
		fast, err := compileGrep(pat, cs)
		if err != nil {
			return
		}
		expr := pat
		if !cs {
			expr = "(?i)" + pat
		}
		re := regexp.MustCompile(expr)
		want := re.Match(bytes.ToValidUTF8(msg, []byte("\uFFFD")))
		if isASCII(pat) && isASCII(string(msg)) && fast(msg) != want {
			t.Fatalf("grep %q (case-sensitive %v) on %q: fast %v; regexp %v", pat, cs, msg, fast(msg), want)
		}
	})
}

func FuzzEscapeUnit(f *testing.F) {
	f.Add("web.service")
	f.Add("%2")
	f.Fuzz(func(t *testing.T, u string) {
		e := escapeUnit(u)
		if strings.ContainsAny(e, "/\x00") || e == "." || e == ".." {
			t.Fatalf("escapeUnit(%q) = %q is not a safe directory name", u, e)
		}
		if back, ok := unescapeUnit(e); !ok || back != u {
			t.Fatalf("round trip of %q: %q, %v", u, back, ok)
		}
		unescapeUnit(u) // arbitrary directory names must not panic
	})
}

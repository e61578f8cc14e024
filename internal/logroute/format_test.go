package logroute

import (
	"bytes"
	"strings"
	"testing"
)

// escapeBytewise is appendEscaped's definition, one byte at a time.
func escapeBytewise(msg []byte) []byte {
	var b []byte
	for _, c := range msg {
		if c < 0x20 && c != '\t' || c == 0x7f {
			b = append(b, '#', '0'+c>>6, '0'+c>>3&7, '0'+c&7)
			continue
		}
		b = append(b, c)
	}
	return b
}

func TestAppendEscaped(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain text, longer than eight bytes", "plain text, longer than eight bytes"},
		{"multi\nline", "multi#012line"},
		{"tab\tstays", "tab\tstays"},
		{"\x00\x01\x1f\x7f", "#000#001#037#177"},
		{"utf-8 é ü \x80\xff stays", "utf-8 é ü \x80\xff stays"},
		{"12345678\n", "12345678#012"},
		{"1234567\r12345678", "1234567#01512345678"},
		{"ends in DEL after a word\x7f", "ends in DEL after a word#177"},
		{"space  ~~~~~~~~ edges ! /", "space  ~~~~~~~~ edges ! /"},
	} {
		if got := string(appendEscaped([]byte("x"), []byte(tc.in))); got != "x"+tc.want {
			t.Errorf("appendEscaped(%q) = %q, want %q", tc.in, got, "x"+tc.want)
		}
	}
}

// TestHasControlEveryByte checks the word test against each byte value in
// each position, next to neighbours that could borrow or carry into it.
func TestHasControlEveryByte(t *testing.T) {
	for _, fill := range []byte{0x00, 0x1f, 0x20, 0x21, 0x7e, 0x7f, 0x80, 0xa0, 0xff} {
		for c := range 256 {
			for pos := range 8 {
				w := bytes.Repeat([]byte{fill}, 8)
				w[pos] = byte(c)
				got := string(appendEscaped(nil, w))
				if want := string(escapeBytewise(w)); got != want {
					t.Fatalf("fill %#x, byte %#x at %d: %q, want %q", fill, c, pos, got, want)
				}
			}
		}
	}
}

func FuzzAppendEscaped(f *testing.F) {
	f.Add([]byte("plain text\nwith\x7f controls\tand tabs \x80\xff"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		if got, want := appendEscaped(nil, msg), escapeBytewise(msg); !bytes.Equal(got, want) {
			t.Fatalf("appendEscaped(%q) = %q, want %q", msg, got, want)
		}
	})
}

func BenchmarkAppendEscaped(b *testing.B) {
	msg := []byte("seq-0000012345 " + strings.Repeat("abcdefghijklmnopqrstuvwxyz", 4)[:85])
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		buf = appendEscaped(buf[:0], msg)
	}
}

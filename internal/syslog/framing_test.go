package syslog

import (
	"bytes"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func readAllFrames(t testing.TB, r io.Reader, max int) ([]string, error) {
	t.Helper()
	fr := NewFrameReader(r, max)
	var got []string
	for {
		f, err := fr.Next()
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return got, err
		}
		got = append(got, string(f))
	}
}

func TestFrameReader(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		want     []string
		err      error
	}{
		{"octet counted", "5 hello3 abc", 100, []string{"hello", "abc"}, nil},
		{"counted keeps newlines", "6 a\nb\r\nc", 100, []string{"a\nb\r\nc"}, nil},
		{"lf framed", "<13>a\n<13>b\r\n\n<13>c", 100, []string{"<13>a", "<13>b", "<13>c"}, nil},
		{"mixed", "3 abc<1>x\n2 yz", 100, []string{"abc", "<1>x", "yz"}, nil},
		{"digits without space are text", "123abc\n42\n", 100, []string{"123abc", "42"}, nil},
		{"empty counted frame skipped", "0 2 ab", 100, []string{"ab"}, nil},
		{"long line split", "abcdefgh\n", 3, []string{"abc", "def", "gh"}, nil},
		{"count over limit", "99 x", 10, nil, ErrFrameTooLong},
		{"truncated counted frame", "10 abc", 100, nil, io.ErrUnexpectedEOF},
		{"NUL trailers ignored", "<1>a\n\x00\x00<1>b\n", 100, []string{"<1>a", "<1>b"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readAllFrames(t, strings.NewReader(tt.in), tt.max)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v; want %v", err, tt.err)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Errorf("frames %q; want %q", got, tt.want)
			}
		})
	}
}

// TestFrameReaderDoesNotWaitForMore checks that a complete frame is
// returned while the sender keeps the connection open.
func TestFrameReaderDoesNotWaitForMore(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	fr := NewFrameReader(b, 100)
	for _, tt := range []struct{ send, want string }{{"5 hello", "hello"}, {"<1>x\n", "<1>x"}, {"7\n", "7"}} {
		wrote := make(chan struct{})
		go func() { defer close(wrote); a.Write([]byte(tt.send)) }()
		got, err := fr.Next()
		if err != nil || string(got) != tt.want {
			t.Fatalf("Next() = %q, %v; want %q", got, err, tt.want)
		}
		<-wrote // the writer returns once its bytes were read
	}
}

func TestAppendOctetCounted(t *testing.T) {
	var wire []byte
	msgs := []string{"a", "", "multi\nline", strings.Repeat("x", 1000)}
	for _, m := range msgs {
		wire = AppendOctetCounted(wire, []byte(m))
	}
	got, err := readAllFrames(t, bytes.NewReader(wire), 2000)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a", "multi\nline", msgs[3]}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("frames %q; want %q", got, want)
	}
}

func FuzzFrameReader(f *testing.F) {
	f.Add([]byte("5 hello3 abc<1>x\n"), 16)
	f.Add([]byte("123abc\n42"), 4)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		if max <= 0 || max > 1<<16 {
			return
		}
		whole, err1 := readAllFrames(t, bytes.NewReader(b), max)
		// A byte at a time, no frame is ever whole in the buffer: the
		// byte-wise path must cut the stream as the buffered one does.
		bytewise, err2 := readAllFrames(t, iotest.OneByteReader(bytes.NewReader(b)), max)
		if !slices.Equal(whole, bytewise) || (err1 == nil) != (err2 == nil) {
			t.Fatalf("frames %q (%v); a byte at a time %q (%v)", whole, err1, bytewise, err2)
		}
		total := 0
		for _, frame := range whole {
			if len(frame) > max {
				t.Fatalf("frame of %d bytes over limit %d", len(frame), max)
			}
			if total += len(frame); total > len(b) {
				t.Fatalf("frames hold more bytes (%d) than the input (%d)", total, len(b))
			}
		}
	})
}

package supervise

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestStateFileRoundTrip(t *testing.T) {
	in := SavedState{Instance: "/run/tend", Units: []SavedUnit{{
		Name: "a.service", Kind: "service", State: "running", Since: time.Unix(1700000000, 0).UTC(),
		Engine: []byte(`{"main_pid":42,"n_restarts":3}`), FDs: map[string]int{"listen": 7},
	}}}
	data, err := EncodeState(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodeState(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Units) != 1 || out.Units[0].Name != "a.service" || string(out.Units[0].Engine) != `{"main_pid":42,"n_restarts":3}` ||
		!out.Units[0].Since.Equal(in.Units[0].Since) || out.Instance != "/run/tend" {
		t.Fatalf("round trip: got %+v", out)
	}
	if got := out.KeepFDs(); len(got) != 1 || got[0] != 7 {
		t.Fatalf("KeepFDs = %v; want [7]", got)
	}
}

func TestDecodeStateRefusesBadFiles(t *testing.T) {
	good, _ := EncodeState(SavedState{Instance: "x", Units: []SavedUnit{{Name: "a.service", Kind: "service", State: "running"}}})
	head, body, _ := bytes.Cut(good, []byte("\n"))
	flip := bytes.Clone(good)
	flip[len(flip)-3] ^= 1
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrStateCorrupt},
		{"truncated", good[:len(good)-5], ErrStateCorrupt},
		{"header only", head, ErrStateCorrupt},
		{"flipped bit", flip, ErrStateCorrupt},
		{"extra bytes", append(bytes.Clone(good), '\n'), ErrStateCorrupt},
		{"not a state file", []byte("hello\nworld"), ErrStateCorrupt},
		{"newer version", append([]byte(string(bytes.Replace(head, []byte(" 1 "), []byte(" 2 "), 1))+"\n"), body...), ErrStateVersion},
		{"older version", append([]byte(string(bytes.Replace(head, []byte(" 1 "), []byte(" 0 "), 1))+"\n"), body...), ErrStateVersion},
		{"version word", append([]byte(string(bytes.Replace(head, []byte(" 1 "), []byte(" x "), 1))+"\n"), body...), ErrStateVersion},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := DecodeState(tc.data); !errors.Is(err, tc.want) {
				t.Fatalf("DecodeState: got %v; want %v", err, tc.want)
			}
		})
	}
}

func FuzzDecodeState(f *testing.F) {
	good, _ := EncodeState(SavedState{Instance: "x", Units: []SavedUnit{{Name: "a.service", Kind: "service", State: "running"}}})
	f.Add(good)
	f.Add([]byte("tend-state 1 00 2\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeState(data)
		if err != nil {
			return
		}
		again, err := EncodeState(s)
		if err != nil {
			t.Fatalf("a decoded state does not encode: %v", err)
		}
		if _, err := DecodeState(again); err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
	})
}

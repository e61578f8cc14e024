package kmsg

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Record
		bad  bool
	}{
		{in: "6,339,5140900,-;NET: Registered protocol family 10\n SUBSYSTEM=net\n DEVICE=+net:lo\n",
			want: Record{Facility: 0, Priority: 6, Seq: 339, Monotonic: 5140900 * time.Microsecond, Message: []byte("NET: Registered protocol family 10")}},
		{in: "12,1000,9000000,-,caller=T1;tendtest: hello",
			want: Record{Facility: 1, Priority: 4, Seq: 1000, Monotonic: 9 * time.Second, Message: []byte("tendtest: hello")}},
		{in: "4,2,3,c;tab\\x09and\\x5c and \\xzz",
			want: Record{Priority: 4, Seq: 2, Monotonic: 3 * time.Microsecond, Continuation: true, Message: []byte("tab\tand\\ and \\xzz")}},
		{in: "no header", bad: true},
		{in: "6,1;x", bad: true},
		{in: "x,1,2,-;x", bad: true},
		{in: "6,-1,2,-;x", bad: true},
	}
	for _, tt := range tests {
		got, err := Parse([]byte(tt.in))
		if tt.bad {
			if err == nil {
				t.Errorf("%q: no error", tt.in)
			}
			continue
		}
		if err != nil || got.Facility != tt.want.Facility || got.Priority != tt.want.Priority || got.Seq != tt.want.Seq ||
			got.Monotonic != tt.want.Monotonic || got.Continuation != tt.want.Continuation || string(got.Message) != string(tt.want.Message) {
			t.Errorf("%q: got %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("6,339,5140900,-;NET: x\n SUBSYSTEM=net\n"))
	f.Add([]byte("191,1,1,c;\\x00\\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			return
		}
		if r.Facility < 0 || r.Facility > 23 || r.Priority < 0 || r.Priority > 7 || r.Monotonic < 0 {
			t.Fatalf("%q: out of range %+v", b, r)
		}
	})
}

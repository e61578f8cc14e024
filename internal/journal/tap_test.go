package journal

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// A tap hears of every committed entry, in sequence order, as a query of
// the journal returns it afterwards; after stop it hears of none.
func TestTapSeesWhatQueriesSee(t *testing.T) {
	j := openTest(t, nil)
	var got []Entry
	stop := j.Tap(func(f Frames) {
		// Data is only valid during the call: keep decoded copies.
		if err := f.Each(func(e *Entry) error {
			e.Message = bytes.Clone(e.Message)
			got = append(got, *e)
			return nil
		}); err != nil {
			t.Error(err)
		}
	})
	at := time.Unix(1_700_000_000, 0)
	if err := j.AppendBatch([]Entry{
		{Unit: "a.service", Realtime: at, Identifier: "one", PID: 3, UID: -1, Priority: 6, Facility: 3, Message: []byte("m1")},
		{Unit: "a.service", Realtime: at, Identifier: "one", PID: 3, UID: 1000, Priority: 6, Facility: 3, Message: []byte("m2")},
		{Unit: "b.service", Realtime: at, Identifier: "two", Stream: StreamSyslog, Message: []byte("m3"),
			Origin: Origin{Hostname: "web7", Address: "10.0.0.7", Time: at.Add(-time.Second), MsgID: "ID47"}},
	}); err != nil {
		t.Fatal(err)
	}
	commitLines(t, j, "c.service", []string{"l1", "l2", "l3"}, true) // a batch frame
	stop()
	if err := j.Append(Entry{Unit: "a.service", Message: []byte("after stop")}); err != nil {
		t.Fatal(err)
	}
	var want []Entry
	if err := j.Query(context.Background(), Query{}, func(e Entry) error {
		e.Message = bytes.Clone(e.Message)
		want = append(want, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(want) != 7 || len(got) != 6 {
		t.Fatalf("tap got %d entries, query %d; want 6 and 7", len(got), len(want))
	}
	for i, e := range got {
		w := want[i]
		if e.Seq != w.Seq || e.BootID != w.BootID || e.Unit != w.Unit || e.Identifier != w.Identifier ||
			e.PID != w.PID || e.UID != w.UID || !e.Realtime.Equal(w.Realtime) || e.Origin.Hostname != w.Origin.Hostname ||
			e.Origin.Address != w.Origin.Address || !e.Origin.Time.Equal(w.Origin.Time) || e.Origin.MsgID != w.Origin.MsgID ||
			!bytes.Equal(e.Message, w.Message) {
			t.Errorf("entry %d: tap %+v, query %+v", i, e, w)
		}
	}
}

// A batch cut short is an error, not a silent end of the walk.
func TestFramesEachCutShort(t *testing.T) {
	data := appendRecord(nil, &rec{seq: 1, msg: []byte("one")})
	data = appendRecord(data, &rec{seq: 2, msg: []byte("two")})
	var seen int
	err := Frames{Unit: "u", Data: data[:len(data)-1]}.Each(func(*Entry) error { seen++; return nil })
	if err == nil || seen != 1 {
		t.Fatalf("seen %d entries, err %v; want 1 and an error", seen, err)
	}
}

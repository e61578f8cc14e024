package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// seedQuery writes a small journal with three units, distinct times and
// priorities, and returns it with its clock.
func seedQuery(t *testing.T) (*Journal, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	j := openTest(t, func(o *Options) { o.Clock = clk.now })
	add := func(unit string, pri int, msg string) {
		t.Helper()
		if err := j.Append(Entry{Unit: unit, Priority: pri, Identifier: strings.TrimSuffix(unit, ".service"), Message: []byte(msg)}); err != nil {
			t.Fatal(err)
		}
		clk.t = clk.t.Add(time.Minute)
	}
	add("web.service", PriInfo, "web starting")        // 10:00
	add("db.service", PriNotice, "db ready")           // 10:01
	add("web.service", PriErr, "Web ERROR connection") // 10:02
	add("web-admin.service", PriDebug, "admin debug")  // 10:03
	add("db.service", PriWarning, "db slow query")     // 10:04
	add("web.service", PriInfo, "web request done")    // 10:05
	add("", PriInfo, "no unit at all")                 // 10:06
	return j, clk
}

func TestQueryFilters(t *testing.T) {
	j, _ := seedQuery(t)
	at := func(min int) time.Time { return time.Date(2026, 11, 22, 10, min, 0, 0, time.UTC) }
	all := collect(t, j, Query{})
	tests := []struct {
		name string
		q    Query
		want string
	}{
		{"all", Query{}, "[web starting db ready Web ERROR connection admin debug db slow query web request done no unit at all]"},
		{"unit", Query{Units: []string{"db.service"}}, "[db ready db slow query]"},
		{"bare name", Query{Units: []string{"web"}}, "[web starting Web ERROR connection web request done]"},
		{"glob", Query{Units: []string{"web*"}}, "[web starting Web ERROR connection admin debug web request done]"},
		{"two units merged", Query{Units: []string{"db.service", "web-admin.service"}}, "[db ready admin debug db slow query]"},
		{"since", Query{Since: at(4)}, "[db slow query web request done no unit at all]"},
		{"until", Query{Until: at(1)}, "[web starting db ready]"},
		{"since until", Query{Since: at(2), Until: at(3)}, "[Web ERROR connection admin debug]"},
		{"priority err and worse", Query{Priorities: PriorityMask(0, PriErr)}, "[Web ERROR connection]"},
		{"priority range", Query{Priorities: PriorityMask(PriWarning, PriNotice)}, "[db ready db slow query]"},
		{"grep insensitive", Query{Grep: "error"}, "[Web ERROR connection]"},
		{"grep sensitive", Query{Grep: "error", CaseSensitive: true}, "[]"},
		{"grep regexp", Query{Grep: "^db (ready|slow)"}, "[db ready db slow query]"},
		{"grep regexp case", Query{Grep: "w[a-z]+ (e|r)"}, "[Web ERROR connection web request done]"},
		{"last n", Query{Lines: 2}, "[web request done no unit at all]"},
		{"last n of unit", Query{Units: []string{"web"}, Lines: 2}, "[Web ERROR connection web request done]"},
		{"reverse", Query{Units: []string{"db"}, Reverse: true}, "[db slow query db ready]"},
		{"reverse n", Query{Reverse: true, Lines: 2}, "[no unit at all web request done]"},
		{"cursor", Query{Cursor: FormatCursor(all[4])}, "[db slow query web request done no unit at all]"},
		{"after cursor", Query{AfterCursor: FormatCursor(all[4])}, "[web request done no unit at all]"},
		{"after cursor unit", Query{AfterCursor: FormatCursor(all[0]), Units: []string{"web"}}, "[Web ERROR connection web request done]"},
		{"boot", Query{Boot: j.BootID()}, fmt.Sprint(messages(all))},
		{"other boot", Query{Boot: "nope"}, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmt.Sprint(messages(collect(t, j, tt.q))); got != tt.want {
				t.Errorf("got %s; want %s", got, tt.want)
			}
		})
	}
}

func TestQueryBadInput(t *testing.T) {
	j, _ := seedQuery(t)
	for _, q := range []Query{{Grep: "("}, {Cursor: "garbage"}, {Units: []string{"["}}} {
		if err := j.Query(context.Background(), q, func(Entry) error { return nil }); err == nil {
			t.Errorf("query %+v: no error", q)
		}
	}
	stop := errors.New("stop")
	n := 0
	err := j.Query(context.Background(), Query{}, func(Entry) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("callback error: got %v after %d entries; want %v after 1", err, n, stop)
	}
}

func TestQueryAcrossRotations(t *testing.T) {
	j := openTest(t, func(o *Options) { o.MaxFileSize = 4096 })
	var want []string
	for i := range 400 {
		u := []string{"a.service", "b.service"}[i%2]
		m := fmt.Sprintf("line %03d of %s", i, u)
		if err := j.Append(Entry{Priority: PriInfo, Unit: u, Message: []byte(m)}); err != nil {
			t.Fatal(err)
		}
		want = append(want, m)
	}
	if n := len(j.units["a.service"].segs); n < 3 {
		t.Fatalf("a.service has %d segments; want rotation", n)
	}
	if got := messages(collect(t, j, Query{})); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("merged order broken:\n got %q\nwant %q", got[:10], want[:10])
	}
	got := messages(collect(t, j, Query{Lines: 3, Units: []string{"a"}}))
	if fmt.Sprint(got) != "[line 394 of a.service line 396 of a.service line 398 of a.service]" {
		t.Errorf("last 3 of a: %q", got)
	}
	rev := messages(collect(t, j, Query{Reverse: true}))
	for i := range rev {
		if rev[i] != want[len(want)-1-i] {
			t.Fatalf("reverse[%d] = %q; want %q", i, rev[i], want[len(want)-1-i])
		}
	}
}

func TestFollowWakesOnAppend(t *testing.T) {
	j, _ := seedQuery(t)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 100)
	done := make(chan error)
	go func() {
		done <- j.Follow(ctx, Query{Units: []string{"web"}, Lines: 1}, func(e Entry) error {
			got <- string(e.Message)
			return nil
		})
	}()
	if m := <-got; m != "web request done" {
		t.Fatalf("first followed entry %q; want the last existing one", m)
	}
	j.Append(Entry{Unit: "db.service", Message: []byte("not for us")})
	j.Append(Entry{Unit: "web.service", Message: []byte("new line")})
	if m := <-got; m != "new line" {
		t.Fatalf("followed %q; want %q", m, "new line")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("follow returned %v", err)
	}
}

func TestReaderFollowsOtherWriter(t *testing.T) {
	j, _ := seedQuery(t)
	r, err := OpenReadOnly(j.Dir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 100)
	done := make(chan error)
	go func() {
		done <- r.Follow(ctx, Query{Units: []string{"new*"}}, func(e Entry) error {
			got <- string(e.Message)
			return nil
		})
	}()
	// The reader must notice a unit directory created after it started.
	j.Append(Entry{Unit: "new.service", Message: []byte("hello from new")})
	if m := <-got; m != "hello from new" {
		t.Fatalf("followed %q", m)
	}
	j.Append(Entry{Unit: "new.service", Message: []byte("second")})
	if m := <-got; m != "second" {
		t.Fatalf("followed %q", m)
	}
	// A batch frame's lines, appended to the segment the reader knows.
	commitLines(t, j, "new.service", []string{"third", "fourth", "fifth"}, false)
	j.Append(Entry{Unit: "new.service", Message: []byte("sixth")})
	for _, want := range []string{"third", "fourth", "fifth", "sixth"} {
		if m := <-got; m != want {
			t.Fatalf("followed %q; want %q", m, want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("follow returned %v", err)
	}
}

// TestEntryFieldsRoundTrip: every field of an appended entry comes back.
func TestEntryFieldsRoundTrip(t *testing.T) {
	j := openTest(t, nil)
	in := Entry{
		Realtime: time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.UTC), Monotonic: 42 * time.Second,
		Unit: "sys.service", PID: 4242, UID: 1000, Priority: PriWarning, Facility: 16,
		Identifier: "sshd", Stream: StreamSyslog, Partial: true, Message: []byte("msg\x00\xff"),
	}
	if err := j.Append(in); err != nil {
		t.Fatal(err)
	}
	j.Append(Entry{Unit: "sys.service", UID: -1, Priority: PriInfo, Message: []byte("no uid")})
	got := collect(t, j, Query{})
	want := in
	want.Seq, want.BootID = 1, j.BootID()
	if fmt.Sprintf("%+v", got[0]) != fmt.Sprintf("%+v", want) || !got[0].Realtime.Equal(want.Realtime) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got[0], want)
	}
	if got[1].UID != -1 {
		t.Errorf("unknown uid came back as %d", got[1].UID)
	}
}

func TestFollowEndsWithContextOrClose(t *testing.T) {
	j, _ := seedQuery(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := j.Query(ctx, Query{}, func(Entry) error { return nil }); err == nil {
		t.Error("query with a canceled context succeeded")
	}
	done := make(chan error)
	go func() { done <- j.Follow(context.Background(), Query{}, func(Entry) error { return nil }) }()
	j.Close()
	if err := <-done; err != nil {
		t.Errorf("follow after Close returned %v; want nil", err)
	}
}

// TestQueryUIDs: a reader restricted to its uid sees only its entries,
// the last N of them with Lines, and only its new ones when following.
func TestQueryUIDs(t *testing.T) {
	j := openTest(t, nil)
	for _, e := range []Entry{
		{Unit: "mine.service", UID: 1000, Message: []byte("mine 1")},
		{Unit: "root.service", UID: 0, Message: []byte("root secret")},
		{Unit: "mine.service", UID: 0, Message: []byte("tend about mine")},
		{UID: -1, Message: []byte("unknown sender")},
		{Unit: "mine.service", UID: 1000, Message: []byte("mine 2")},
		{Unit: "root.service", UID: 0, Message: []byte("root later")},
	} {
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		q    Query
		want string
	}{
		{Query{UIDs: []int{1000}}, "[mine 1 mine 2]"},
		{Query{UIDs: []int{1000}, Lines: 1}, "[mine 2]"},
		{Query{UIDs: []int{1000}, Lines: 1, Reverse: true}, "[mine 2]"},
		{Query{UIDs: []int{1000}, Units: []string{"root.service"}}, "[]"},
		{Query{UIDs: []int{0}, Units: []string{"mine"}}, "[tend about mine]"},
		{Query{UIDs: []int{-1}}, "[unknown sender]"},
		{Query{UIDs: []int{4242}}, "[]"},
	} {
		if got := fmt.Sprint(messages(collect(t, j, tt.q))); got != tt.want {
			t.Errorf("%+v: got %s; want %s", tt.q, got, tt.want)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan string, 100)
	done := make(chan error)
	go func() {
		done <- j.Follow(ctx, Query{UIDs: []int{1000}, Lines: 1}, func(e Entry) error {
			got <- string(e.Message)
			return nil
		})
	}()
	if m := <-got; m != "mine 2" {
		t.Fatalf("first followed entry %q; want %q", m, "mine 2")
	}
	j.Append(Entry{Unit: "root.service", UID: 0, Message: []byte("root new")})
	j.Append(Entry{Unit: "mine.service", UID: 1000, Message: []byte("mine new")})
	if m := <-got; m != "mine new" {
		t.Fatalf("followed %q; want %q", m, "mine new")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("follow returned %v", err)
	}
}

// TestFollowAcrossBlocksAndSegments follows while entries are committed
// one by one, in two units, past many index blocks and segment rotations:
// the follower, which resumes each query where the last one stopped and
// keeps the active segments open, gets every entry once and in order;
// as single records and as batch frames (runs of lines of one unit).
func TestFollowAcrossBlocksAndSegments(t *testing.T) {
	for _, batch := range []int{1, 7} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			j := openTest(t, func(o *Options) { o.MaxFileSize = 1 << 20 })
			const n = 12000
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			got := make(chan Entry, n)
			done := make(chan error)
			go func() {
				done <- j.Follow(ctx, Query{}, func(e Entry) error {
					e.Message = bytes.Clone(e.Message)
					got <- e
					return nil
				})
			}()
			pad := strings.Repeat("x", 200)
			var run []string
			for i := range n {
				unit := []string{"a.service", "b.service"}[i%3/2]
				run = append(run, fmt.Sprintf("line %d %s", i, pad))
				if i+1 < n && len(run) < batch && []string{"a.service", "b.service"}[(i+1)%3/2] == unit {
					continue
				}
				if batch == 1 {
					if err := j.Append(Entry{Unit: unit, Message: []byte(run[0])}); err != nil {
						t.Fatal(err)
					}
				} else {
					commitLines(t, j, unit, run, false)
				}
				run = run[:0]
			}
			var last uint64
			for i := range n {
				e := <-got
				if want := fmt.Sprintf("line %d %s", i, pad); string(e.Message) != want || e.Seq <= last {
					t.Fatalf("entry %d: %q seq %d after %d", i, e.Message[:min(len(e.Message), 20)], e.Seq, last)
				}
				last = e.Seq
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			select {
			case e := <-got:
				t.Fatalf("extra entry %q", e.Message)
			default:
			}
		})
	}
}

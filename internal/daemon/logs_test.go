package daemon

import (
	"context"
	"strings"
	"testing"

	"github.com/tendproject/tend/internal/journal"
	"github.com/tendproject/tend/internal/supervise"
)

// TestOwnEventsBatched: the messages of one event, handed over together,
// reach the journal in their order, each under its unit, as tend's own
// (identifier tend, its stream, the priority given), as one at a time
// would.
func TestOwnEventsBatched(t *testing.T) {
	j, err := journal.Open(journal.Options{Dir: t.TempDir(), BootID: "b", MaxUse: 1 << 30, KeepFree: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	s := &logSink{j: j}
	s.Events([]supervise.LogEvent{
		{Unit: "a.service", Priority: 5, Message: "Main process exited"},
		{Unit: "a.service", Priority: 4, Message: "Failed"},
		{Unit: "b.service", Priority: 6, Message: "Started"},
		{Unit: "a.service", Priority: 6, Message: "Scheduled restart"},
	})
	s.Event("b.service", 7, 3, "one alone")
	var got []string
	if err := j.Query(context.Background(), journal.Query{}, func(e journal.Entry) error {
		if e.Identifier != "tend" || e.Stream != journal.StreamTend {
			t.Errorf("%q: identifier %q, stream %v; want tend's own", e.Message, e.Identifier, e.Stream)
		}
		got = append(got, e.Unit+"/"+string(rune('0'+e.Priority))+"/"+string(e.Message))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := "a.service/5/Main process exited|a.service/4/Failed|b.service/6/Started|a.service/6/Scheduled restart|b.service/3/one alone"
	if strings.Join(got, "|") != want {
		t.Errorf("journal holds\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
}

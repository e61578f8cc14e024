package daemon

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/tendproject/tend/internal/journal"
)

// Messages added by two receivers from buffers they reuse at once, with flushes between and more than a
// batch's bound outstanding, all reach the journal, each receiver's in
// its order, by the time wait returns: with batches that flush hands to
// the writer goroutine and with batches small enough that it writes them
// itself.
func TestSyslogBatchGroupCommit(t *testing.T) {
	for _, every := range []int{100, 10} {
		for _, small := range []bool{false, true} {
			t.Run(fmt.Sprint("flush every ", every, " small ", small), func(t *testing.T) { testSyslogBatch(t, every, small) })
		}
	}
}

func testSyslogBatch(t *testing.T, every int, small bool) {
	flush := (*syslogBatch).flush
	if small {
		flush = (*syslogBatch).flushSmall
	}
	j, err := journal.Open(journal.Options{Dir: t.TempDir(), BootID: "b", MaxUse: 1 << 30, KeepFree: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	var b syslogBatch
	const n = 3 * maxSyslogBatch
	var wg sync.WaitGroup
	for _, unit := range []string{"a.service", "b.service"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One buffer for every message, as a receiver lends its
			// read buffer: add must copy.
			var msg []byte
			for i := range n {
				msg = fmt.Appendf(msg[:0], "%d", i)
				b.add(j, &journal.Entry{Unit: unit, UID: -1, Message: msg})
				copy(msg, "XXXXXXXXXX")
				if i%every == every-1 {
					flush(&b, j)
				}
			}
		}()
	}
	wg.Wait()
	b.wait(j)
	next := map[string]int{}
	if err := j.Query(context.Background(), journal.Query{}, func(e journal.Entry) error {
		if want := fmt.Sprint(next[e.Unit]); string(e.Message) != want {
			return fmt.Errorf("%s: %q where %s was due", e.Unit, e.Message, want)
		}
		next[e.Unit]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if next["a.service"] != n || next["b.service"] != n {
		t.Fatalf("journal holds %v; want %d of each", next, n)
	}
}

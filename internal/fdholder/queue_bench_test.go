package fdholder

import (
	"fmt"
	"log/slog"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkQueueHold: what handing the holder one descriptor through the
// queue costs, as the journal does twice per service started (its log
// pipes' read ends), 200 at a time as at a bring-up.
func BenchmarkQueueHold(b *testing.B) {
	path := startServer(b, os.Getuid()).path
	c, err := Dial(path)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	q := NewQueue(c, slog.Default())
	defer q.Close()
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	names := make([]string, 200)
	for i := range names {
		names[i] = fmt.Sprintf("unit-%d.service/stdout", i)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q.Hold(names[i%len(names)], fds[0])
		if i%len(names) == len(names)-1 {
			q.Wait()
		}
	}
	q.Wait()
}

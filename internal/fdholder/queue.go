package fdholder

import (
	"log/slog"
	"sync"

	"golang.org/x/sys/unix"
)

// Queue sends stores and drops to the holder in order, from one
// goroutine, so that the caller (the journal creating a pipe for a
// start or restart) never waits for the holder. It keeps a duplicate of
// each descriptor until it was sent, so the caller may close its own at
// any time; a descriptor dropped before it was sent is never sent.
type Queue struct {
	c    *Client
	log  *slog.Logger
	mu   sync.Mutex
	ops  []op
	stop bool
	wake chan struct{}
	done chan struct{}
}

type op struct {
	name string
	fd   int           // -1: drop
	sent chan struct{} // instead of a request: closed when the ops before it were sent
}

// NewQueue starts the sender; Close ends it.
func NewQueue(c *Client, log *slog.Logger) *Queue {
	q := &Queue{c: c, log: log, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go q.run()
	return q
}

// Hold queues a store of a duplicate of fd under name.
func (q *Queue) Hold(name string, fd int) {
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		q.log.Warn("fdholder: cannot keep a descriptor", "name", name, "err", err)
		return
	}
	q.push(op{name: name, fd: d})
}

// Release queues a drop of name, or cancels its store not yet sent.
func (q *Queue) Release(name string) {
	q.mu.Lock()
	for i, o := range q.ops {
		if o.name == name && o.fd >= 0 {
			unix.Close(o.fd)
			q.ops = append(q.ops[:i], q.ops[i+1:]...)
			q.mu.Unlock()
			return // the holder never had it
		}
	}
	q.mu.Unlock()
	q.push(op{name: name, fd: -1})
}

func (q *Queue) push(o op) {
	q.mu.Lock()
	if q.stop {
		q.mu.Unlock()
		o.drop()
		return
	}
	q.ops = append(q.ops, o)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *Queue) run() {
	defer close(q.done)
	for range q.wake {
		for {
			q.mu.Lock()
			if q.stop || len(q.ops) == 0 {
				q.mu.Unlock()
				break
			}
			o := q.ops[0]
			q.ops = q.ops[1:]
			q.mu.Unlock()
			q.send(o)
		}
		q.mu.Lock()
		stop := q.stop
		q.mu.Unlock()
		if stop {
			return
		}
	}
}

func (q *Queue) send(o op) {
	if o.sent != nil {
		close(o.sent)
		return
	}
	var err error
	if o.fd >= 0 {
		err = q.c.Store(o.name, o.fd)
		unix.Close(o.fd)
	} else {
		err = q.c.Drop(o.name)
	}
	if err != nil {
		q.log.Warn("fdholder: a crash of tend would lose this descriptor", "name", o.name, "err", err)
	}
}

// Wait returns once every store and drop queued before it was sent.
func (q *Queue) Wait() {
	sent := make(chan struct{})
	q.push(op{fd: -1, sent: sent})
	<-sent
}

// Close stops the sender; what was not sent yet is not.
func (q *Queue) Close() {
	q.mu.Lock()
	if q.stop {
		q.mu.Unlock()
		return
	}
	q.stop = true
	for _, o := range q.ops {
		o.drop()
	}
	q.ops = nil
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	<-q.done
}

// drop gives up an op not sent: its duplicate is closed, a waiter let go.
func (o op) drop() {
	if o.fd >= 0 {
		unix.Close(o.fd)
	}
	if o.sent != nil {
		close(o.sent)
	}
}

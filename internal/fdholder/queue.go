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
			// A run at a time, so that Close waits for one run at most.
			n := min(len(q.ops), pipelineMax)
			ops := q.ops[:n:n]
			q.ops = q.ops[n:]
			q.mu.Unlock()
			q.send(ops)
		}
		q.mu.Lock()
		stop := q.stop
		q.mu.Unlock()
		if stop {
			return
		}
	}
}

// send sends ops in order, their answers read in runs (pipeline); a
// waiter is let go once what was queued before it is answered.
func (q *Queue) send(ops []op) {
	p := q.c.pipeline(func(name string, err error) {
		q.log.Warn("fdholder: a crash of tend would lose this descriptor", "name", name, "err", err)
	})
	defer p.end()
	for _, o := range ops {
		switch {
		case o.sent != nil:
			p.flush()
			close(o.sent)
		case o.fd >= 0:
			p.store(o.name, o.fd)
			unix.Close(o.fd) // the message carries the holder's reference
		default:
			p.drop(o.name)
		}
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

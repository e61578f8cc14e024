package supervise

import "sync"

// mailbox is an unbounded queue of events for the manager loop. Producers
// (the reaper, timers, the notify socket, API calls) never block on it, so
// the reaper can't stall behind a busy loop; the loop drains it in order.
type mailbox struct {
	mu sync.Mutex // guards q
	q  []event
	// wake holds one token while q is non-empty.
	wake chan struct{}
}

func newMailbox() *mailbox { return &mailbox{wake: make(chan struct{}, 1)} }

func (b *mailbox) put(e event) {
	b.mu.Lock()
	b.q = append(b.q, e)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// take returns everything queued and empties the queue.
func (b *mailbox) take() []event {
	b.mu.Lock()
	q := b.q
	b.q = nil
	b.mu.Unlock()
	return q
}

// pending reports whether events are queued.
func (b *mailbox) pending() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.q) > 0
}

// takeNotified removes the queued notifications, in order, leaving the
// other events.
func (b *mailbox) takeNotified() []event {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []event
	kept := b.q[:0]
	for _, e := range b.q {
		if _, ok := e.(evNotify); ok {
			out = append(out, e)
			continue
		}
		kept = append(kept, e)
	}
	clear(b.q[len(kept):])
	b.q = kept
	return out
}

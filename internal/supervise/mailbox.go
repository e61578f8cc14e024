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

package syslog

import (
	"log/slog"
	"sync"
)

// maxDiags bounds the remembered (problem, source) pairs; past it the set
// starts over, so a scan from many addresses costs bounded memory and at
// worst repeats a message.
const maxDiags = 4096

// diags logs each kind of problem once per source, not once per packet:
// a sender of garbage or a stuck TLS client must not flood tend's log.
type diags struct {
	log *slog.Logger

	mu   sync.Mutex // guards seen
	seen map[[2]string]bool
}

// once logs msg with the source and args the first time problem is seen
// from source.
func (d *diags) once(problem, source, msg string, args ...any) {
	d.mu.Lock()
	key := [2]string{problem, source}
	if d.seen[key] {
		d.mu.Unlock()
		return
	}
	if d.seen == nil || len(d.seen) >= maxDiags {
		d.seen = map[[2]string]bool{}
	}
	d.seen[key] = true
	d.mu.Unlock()
	d.log.Warn(msg, append([]any{"from", source}, args...)...)
}

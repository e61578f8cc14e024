package supervise

import (
	"context"
	"slices"

	"github.com/tendproject/tend/internal/plan"
)

// Prepared is a transaction computed off the manager's loop, for a plan
// in which every unit is inactive. At boot the loop would compute the
// same one while the first service waits; computed ahead, it overlaps
// the daemon's set-up instead. The loop takes it only when nothing it
// depends on can differ (preparedFor).
type Prepared struct {
	plan  *plan.Plan
	kind  plan.JobKind
	names []string
	mode  plan.Mode
	done  chan struct{} // closed when tx and err are set
	tx    *plan.Transaction
	err   error
}

// Prepare starts computing the transaction of kind for names in pl, as
// if no unit were active, on a goroutine of its own; the goroutine ends
// when the transaction is made, and JobsPrepared or Wait joins it.
func Prepare(pl *plan.Plan, kind plan.JobKind, names []string, mode plan.Mode) *Prepared {
	p := &Prepared{plan: pl, kind: kind, names: slices.Clone(names), mode: mode, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.tx, p.err = pl.Transaction(kind, p.names, mode, nil)
	}()
	return p
}

// Wait waits for the computation to end, for an owner that will not use it.
func (p *Prepared) Wait() { <-p.done }

// JobsPrepared is Jobs for the request p was prepared for; the loop
// takes p's transaction if it still fits, or computes its own.
func (m *Manager) JobsPrepared(ctx context.Context, p *Prepared, noWait bool) ([]JobResult, error) {
	// Waited for here, not on the loop, which goes on with its events.
	select {
	case <-p.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return m.queueJobs(ctx, p.kind, p.names, p.mode, p, noWait)
}

// preparedFor returns p's transaction if it is the one the loop would
// compute for kind, names and mode now: made for the plan in force, for
// the same request, without error, and every unit is inactive (the only
// state the transaction reads, through activeState). Runs on the loop.
func (m *Manager) preparedFor(p *Prepared, kind plan.JobKind, names []string, mode plan.Mode) *plan.Transaction {
	if p == nil || p.err != nil || p.plan != m.plan || p.kind != kind || p.mode != mode || !slices.Equal(p.names, names) {
		return nil
	}
	for name := range m.units {
		if m.activeState(name) != plan.Inactive {
			return nil
		}
	}
	return p.tx
}

package plan

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// orderGraph is the "waits for" relation between the live jobs of a
// transaction: waits[i] holds the indices of jobs job i runs after.
type orderGraph struct {
	jobs  []*tjob // sorted by unit name
	waits [][]int
}

// finish orders the live jobs, breaking ordering cycles, and builds the
// Transaction.
func (b *builder) finish() *Transaction {
	cut := map[[2]string]bool{} // ordering edges dropped to break cycles
	for {
		g := b.orderGraph(cut)
		cycle := g.findCycle()
		if cycle == nil {
			return b.transaction(g)
		}
		b.breakCycle(g, cycle, cut)
	}
}

// orderGraph builds the ordering between live jobs, leaving out the edges
// in cut.
func (b *builder) orderGraph(cut map[[2]string]bool) *orderGraph {
	g := &orderGraph{}
	for _, j := range b.all {
		if !j.dropped && !j.noop {
			g.jobs = append(g.jobs, j)
		}
	}
	sort.Slice(g.jobs, func(i, k int) bool { return g.jobs[i].unit < g.jobs[k].unit })
	idx := make(map[string]int, len(g.jobs))
	for i, j := range g.jobs {
		idx[j.unit] = i
	}
	g.waits = make([][]int, len(g.jobs))
	if b.mode == IgnoreDependencies {
		return g
	}
	for i, j := range g.jobs {
		for _, a := range b.p.edges[j.unit].get(list(relAfter)) {
			k, ok := idx[a]
			if !ok {
				continue
			}
			// Unit a is ordered before unit j: j waits for a, unless j's
			// job is a stop, which goes first (and stops run in reverse).
			waiter, first := i, k
			if j.kind.stopLike() {
				waiter, first = k, i
			}
			if cut[[2]string{g.jobs[waiter].unit, g.jobs[first].unit}] {
				continue
			}
			g.waits[waiter] = append(g.waits[waiter], first)
		}
	}
	for i := range g.waits {
		slices.Sort(g.waits[i])
		g.waits[i] = slices.Compact(g.waits[i])
	}
	return g
}

func appendNewInt(l []int, v int) []int {
	if slices.Contains(l, v) {
		return l
	}
	return append(l, v)
}

// findCycle returns one elementary cycle as job indices, each waiting for
// the next and the last for the first, or nil when the graph is acyclic.
// It picks the strongly connected component holding the lowest index and
// the shortest cycle through that index, so the answer is deterministic.
func (g *orderGraph) findCycle() []int {
	comp := g.components()
	best := -1
	size := map[int]int{}
	for _, c := range comp {
		size[c]++
	}
	for i, c := range comp {
		if size[c] > 1 {
			best = i
			break
		}
	}
	if best < 0 {
		return nil
	}
	// Breadth-first search from best back to itself inside its component.
	prev := map[int]int{}
	queue := []int{best}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range g.waits[v] {
			if comp[w] != comp[best] {
				continue
			}
			if w == best {
				cycle := []int{v}
				for v != best {
					v = prev[v]
					cycle = append(cycle, v)
				}
				slices.Reverse(cycle)
				return cycle
			}
			if _, seen := prev[w]; !seen {
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	return nil // unreachable: a component larger than one node has a cycle
}

// components labels each job with its strongly connected component
// (Tarjan's algorithm).
func (g *orderGraph) components() []int {
	n := len(g.jobs)
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	comp := make([]int, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	next, label := 0, 0
	var visit func(v int)
	visit = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range g.waits[v] {
			if index[w] < 0 {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp[w] = label
				if w == v {
					break
				}
			}
			label++
		}
	}
	for v := range n {
		if index[v] < 0 {
			visit(v)
		}
	}
	return comp
}

// breakCycle drops the first job on the cycle that does not matter to
// the request or, when every job matters, the ordering edge that closes
// the cycle, and records a warning naming the cycle.
func (b *builder) breakCycle(g *orderGraph, cycle []int, cut map[[2]string]bool) {
	names := make([]string, 0, len(cycle)+1)
	for _, i := range cycle {
		names = append(names, g.jobs[i].unit)
	}
	names = append(names, names[0])
	desc := "ordering cycle found: " + strings.Join(names, " → ")
	for _, i := range cycle {
		if j := g.jobs[i]; !j.required && !j.anchor {
			msg := fmt.Sprintf("%s; dropped job for %s", desc, j.unit)
			if also := b.drop(j); len(also) > 0 {
				msg += ", and with it " + strings.Join(also, ", ")
			}
			b.warnings = append(b.warnings, msg)
			return
		}
	}
	last, first := g.jobs[cycle[len(cycle)-1]].unit, g.jobs[cycle[0]].unit
	cut[[2]string{last, first}] = true
	b.warnings = append(b.warnings, fmt.Sprintf("%s; dropped ordering of %s after %s", desc, last, first))
}

// transaction builds the result from an acyclic order graph: jobs in a
// topological order (ties by unit name), After and Dependents as indices.
func (b *builder) transaction(g *orderGraph) *Transaction {
	n := len(g.jobs)
	pending := make([]int, n)
	waiters := make([][]int, n)
	for i, ws := range g.waits {
		pending[i] = len(ws)
		for _, w := range ws {
			waiters[w] = append(waiters[w], i)
		}
	}
	var ready, order []int
	for i := range n {
		if pending[i] == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		slices.Sort(ready)
		v := ready[0]
		ready = ready[1:]
		order = append(order, v)
		for _, w := range waiters[v] {
			if pending[w]--; pending[w] == 0 {
				ready = append(ready, w)
			}
		}
	}
	pos := make([]int, n)
	for p, v := range order {
		pos[v] = p
	}
	t := &Transaction{Mode: b.mode, Jobs: make([]Job, n), Warnings: b.warnings}
	for p, v := range order {
		j := g.jobs[v]
		job := Job{Unit: j.unit, Kind: j.kind, Anchor: j.anchor, Required: j.required}
		for _, w := range g.waits[v] {
			job.After = append(job.After, pos[w])
		}
		slices.Sort(job.After)
		t.Jobs[p] = job
	}
	b.addDependents(t)
	for name, reason := range b.skipped {
		if t.Index(name) < 0 {
			t.Skipped = append(t.Skipped, Skip{Unit: name, Reason: reason})
		}
	}
	sort.Slice(t.Skipped, func(i, k int) bool { return t.Skipped[i].Unit < t.Skipped[k].Unit })
	return t
}

// addDependents fills Job.Dependents: which jobs fail with "dependency"
// when a job fails.
func (b *builder) addDependents(t *Transaction) {
	idx := make(map[string]int, len(t.Jobs))
	for i, j := range t.Jobs {
		idx[j.Unit] = i
	}
	startLike := func(k JobKind) bool { return k == Start || k == Restart || k == VerifyActive }
	for i := range t.Jobs {
		j := &t.Jobs[i]
		switch {
		case j.Kind == Stop:
			for _, n := range b.p.edges[j.Unit].get(list(relConflicts)) {
				if k, ok := idx[n]; ok && k != i && startLike(t.Jobs[k].Kind) {
					j.Dependents = append(j.Dependents, k)
				}
			}
		case startLike(j.Kind):
			e := b.p.edges[b.p.canonical(j.Unit)]
			if e == nil {
				break
			}
			requiredBy, boundBy, requisiteOf := e.get(listRequiredBy), e.get(listBoundBy), e.get(listRequisiteOf)
			// Whichever side is shorter is walked: a unit every unit
			// requires (sysinit.target) has an entry per unit, ten
			// thousand with ten thousand crontab lines, in every
			// timer's small start; and in a boot of N services, each
			// service (required by nothing) would walk all N jobs.
			if n := len(requiredBy) + len(boundBy) + len(requisiteOf); n < len(t.Jobs) {
				for _, l := range [][]string{requiredBy, boundBy, requisiteOf} {
					for _, name := range l {
						if k, ok := idx[name]; ok && k != i && startLike(t.Jobs[k].Kind) {
							j.Dependents = append(j.Dependents, k)
						}
					}
				}
				break
			}
			for k, o := range t.Jobs {
				if k == i || !startLike(o.Kind) {
					continue
				}
				if sortedHas(requiredBy, o.Unit) || sortedHas(boundBy, o.Unit) || sortedHas(requisiteOf, o.Unit) {
					j.Dependents = append(j.Dependents, k)
				}
			}
		}
		// Sorted then compacted: a list may name a job twice.
		slices.Sort(j.Dependents)
		j.Dependents = slices.Compact(j.Dependents)
	}
}

// sortedHas reports whether the sorted list l holds s.
func sortedHas(l []string, s string) bool {
	_, ok := slices.BinarySearch(l, s)
	return ok
}

package journal

// Release seals unit's active segment and closes its file, for a unit
// that will not log again soon (a finished per-connection instance):
// without it every unit that ever logged keeps one descriptor open in
// tend for as long as tend runs. While pipes of the unit are still being
// read, the release waits for the last one's end, so that the lines
// still in them do not reopen a segment at once. A line that arrives
// later anyway is stored in a new segment; queries and follows read the
// segments by path and do not notice.
func (j *Journal) Release(unit string) {
	j.wmu.Lock()
	u := j.units[unit]
	if u == nil || j.closed {
		j.wmu.Unlock()
		return
	}
	if j.hasPipesLocked(unit) {
		u.release = true
		j.wmu.Unlock()
		return
	}
	rot := u.detachLocked()
	j.wmu.Unlock()
	if rot != nil {
		j.seal(rot)
		j.enforceRetention()
	}
}

// pipeEnded performs a release that waited for unit's pipes, once the
// last of them was read to its end.
func (j *Journal) pipeEnded(unit string) {
	j.wmu.Lock()
	u := j.units[unit]
	if u == nil || !u.release || j.closed || j.hasPipesLocked(unit) {
		j.wmu.Unlock()
		return
	}
	rot := u.detachLocked()
	j.wmu.Unlock()
	if rot != nil {
		j.seal(rot)
		j.enforceRetention()
	}
}

// detachLocked takes u's active segment from it, to be sealed like a
// rotated one; the next commit starts a new segment.
func (u *unitLog) detachLocked() *rotation {
	u.release = false
	if u.f == nil {
		return nil
	}
	rot := &rotation{u: u, s: u.segs[len(u.segs)-1], f: u.f}
	u.f, u.dirty = nil, false
	return rot
}

// hasPipesLocked reports whether a pipe of unit is still being read.
func (j *Journal) hasPipesLocked(unit string) bool {
	in := j.in
	if in == nil {
		return false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, p := range in.byFD {
		if p.src.Unit == unit {
			return true
		}
	}
	return false
}

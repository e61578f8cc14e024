package journal

import "os"

// Release closes unit's active segment, for a unit that will not log
// again soon (a finished per-connection instance): without it every
// unit that ever logged keeps one descriptor open in tend for as long as
// tend runs. The descriptor is closed before Release returns; the
// segment is sealed (fsync, index, directory fsync) by the journal's
// sealer afterwards, so the caller — the manager loop, once per
// connection — never waits for the disk. While pipes of the unit are
// still being read, the release waits for the last one's end, so that
// the lines still in them do not reopen a segment at once. A line that
// arrives later anyway is stored in a new segment; queries and follows
// read the segments by path and do not notice.
func (j *Journal) Release(unit string) {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if sh, ok := j.shared[unit]; ok {
		// Its stream is its template's, which stays open for the next
		// instance; what its pipes still hold goes there too.
		if j.hasPipesLocked(unit) {
			sh.released = true
			j.shared[unit] = sh
		} else {
			delete(j.shared, unit)
		}
		return
	}
	u := j.units[unit]
	if u == nil || j.closed {
		return
	}
	if j.hasPipesLocked(unit) {
		u.release = true
		return
	}
	j.releaseLocked(u)
}

// pipeEnded performs a release that waited for unit's pipes, once the
// last of them was read to its end.
func (j *Journal) pipeEnded(unit string) {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if sh, ok := j.shared[unit]; ok {
		if sh.released && !j.hasPipesLocked(unit) {
			delete(j.shared, unit)
		}
		return
	}
	u := j.units[unit]
	if u == nil || !u.release || j.closed || j.hasPipesLocked(unit) {
		return
	}
	j.releaseLocked(u)
}

// releaseLocked detaches u's active segment, closes its descriptor and
// queues the segment for the sealer. An unsynced segment's data reaches
// the disk through the sealer's fsync of the same inode (by path).
func (j *Journal) releaseLocked(u *unitLog) {
	u.release = false
	if u.f == nil && !u.resume {
		return
	}
	s := u.segs[len(u.segs)-1]
	if u.f != nil {
		u.f.Close()
	}
	u.f, u.dirty, u.resume = nil, false, false
	j.sealLaterLocked(&rotation{u: u, s: s})
}

// sealLaterLocked queues a detached segment for the sealer.
func (j *Journal) sealLaterLocked(r *rotation) {
	j.sealQ = append(j.sealQ, r)
	if !j.sealing {
		j.sealing = true
		j.sealWG.Add(1)
		go j.sealQueued()
	}
}

// sealQueued is the sealer: it seals released segments in batches, then
// applies retention once per batch, and ends when the queue is empty.
// Close waits for it.
func (j *Journal) sealQueued() {
	defer j.sealWG.Done()
	for {
		j.wmu.Lock()
		q := j.sealQ
		j.sealQ = nil
		if len(q) == 0 {
			j.sealing = false
			j.wmu.Unlock()
			return
		}
		j.wmu.Unlock()
		for _, r := range q {
			j.seal(r)
		}
		j.enforceRetention()
	}
}

// reopen gives a released segment a descriptor to fsync through.
func (r *rotation) reopen() error {
	if r.f != nil {
		return nil
	}
	f, err := os.Open(r.s.path)
	r.f = f
	return err
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

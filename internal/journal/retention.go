package journal

import (
	"errors"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Retention rules, applied at Open, after every rotation and by Vacuum.
// Only sealed segments are removed; a unit's active segment never is.
//
//  1. Age: a segment whose newest entry is older than MaxAge goes.
//  2. Per unit: while a unit uses more than PerUnitMaxUse, its oldest
//     segment goes.
//  3. Global size and free-space floor: while the journal uses more than
//     MaxUse, or its file system has less than KeepFree available, the
//     oldest segment of the unit using the most space goes. Chatty units
//     pay for their chatter; a quiet unit keeps its history.

// usage is the retention view of one unit.
type usage struct {
	u     *unitLog
	bytes int64
}

func segBytes(s *segment) int64 {
	n := s.size
	if s.sealed {
		n += int64(idxHdrLen + len(s.blocks)*idxBlockLen)
	}
	return n
}

// enforceRetention applies the configured limits.
func (j *Journal) enforceRetention() {
	j.vacuum(j.opts.MaxUse, j.opts.MaxAge)
	j.armAgeTimer()
}

// armAgeTimer sets the one timer of age retention to when the oldest
// sealed segment expires, so MaxAge holds on an idle journal too without
// periodic wake-ups. No timer runs without MaxAge or sealed segments.
func (j *Journal) armAgeTimer() {
	if j.opts.MaxAge <= 0 {
		return
	}
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if j.closed {
		return
	}
	if j.ageTimer != nil && j.ageTimer.Stop() {
		j.timerWG.Done()
	}
	j.ageTimer = nil
	var oldest int64
	found := false
	for _, u := range j.units {
		for _, s := range u.segs {
			if s.sealed && !s.empty() && (!found || s.maxRT() < oldest) {
				oldest, found = s.maxRT(), true
			}
		}
	}
	if !found {
		return
	}
	// At least a second: a segment kept for another reason (a clock set
	// backwards) must not turn this into a busy loop.
	d := max(time.Unix(0, oldest).Add(j.opts.MaxAge).Sub(j.opts.Clock()), time.Second)
	j.timerWG.Add(1)
	j.ageTimer = time.AfterFunc(d, func() {
		defer j.timerWG.Done()
		j.enforceRetention()
	})
}

// vacuum removes sealed segments until the journal uses at most maxUse
// bytes (the configured MaxUse when negative; no size limit when 0) and
// holds nothing older than maxAge (no limit when 0); the per-unit limit and
// the free-space floor always apply.
func (j *Journal) vacuum(maxUse int64, maxAge time.Duration) int64 {
	j.retMu.Lock()
	defer j.retMu.Unlock()
	if maxUse < 0 {
		maxUse = j.opts.MaxUse
	}
	var cutoff int64
	if maxAge > 0 {
		cutoff = j.opts.Clock().Add(-maxAge).UnixNano()
	}
	var removed int64
	for {
		victim := j.pickVictim(maxUse, cutoff)
		if victim == nil {
			return removed
		}
		removed += segBytes(victim)
		if err := removeSegment(victim.path); err != nil {
			j.log.Error("journal: cannot remove segment", "file", victim.path, "err", err)
			return removed
		}
	}
}

// pickVictim chooses the next segment to remove and unlinks it from its
// unit's list, or returns nil when every limit holds.
func (j *Journal) pickVictim(maxUse, cutoff int64) *segment {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	var total int64
	var units []usage
	for _, u := range j.units {
		var n int64
		for _, s := range u.segs {
			n += segBytes(s)
		}
		total += n
		units = append(units, usage{u, n})
	}
	take := func(u *unitLog) *segment {
		if len(u.segs) == 0 || !u.segs[0].sealed {
			return nil
		}
		s := u.segs[0]
		u.segs = u.segs[1:]
		return s
	}
	for _, us := range units {
		if s := oldest(us.u); s != nil && cutoff != 0 && s.maxRT() < cutoff {
			return take(us.u)
		}
	}
	for _, us := range units {
		if us.bytes > j.opts.PerUnitMaxUse {
			if s := take(us.u); s != nil {
				return s
			}
		}
	}
	if (maxUse > 0 && total > maxUse) || j.lowOnSpace() {
		var big *usage
		for i, us := range units {
			if oldest(us.u) != nil && (big == nil || us.bytes > big.bytes) {
				big = &units[i]
			}
		}
		if big != nil {
			return take(big.u)
		}
	}
	return nil
}

func oldest(u *unitLog) *segment {
	if len(u.segs) == 0 || !u.segs[0].sealed {
		return nil
	}
	return u.segs[0]
}

func (j *Journal) lowOnSpace() bool {
	if j.opts.KeepFree <= 0 {
		return false
	}
	var st unix.Statfs_t
	if err := unix.Statfs(j.opts.Dir, &st); err != nil {
		return false
	}
	return int64(st.Bavail)*st.Bsize < j.opts.KeepFree
}

func removeSegment(path string) error {
	err := os.Remove(indexPath(path))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// DiskUsage returns the bytes the journal's segments and indexes use.
func (j *Journal) DiskUsage() (int64, error) {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	var n int64
	for _, u := range j.units {
		for _, s := range u.segs {
			n += segBytes(s)
		}
	}
	return n, nil
}

// Vacuum removes sealed segments, the largest unit's oldest first, until
// the journal uses at most size bytes (0: no size target), and every
// segment whose entries are all older than age (0: no age target). It
// returns the bytes freed. Active segments are kept.
func (j *Journal) Vacuum(size int64, age time.Duration) (int64, error) {
	if size == 0 {
		size = j.opts.MaxUse
	}
	return j.vacuum(size, age), nil
}

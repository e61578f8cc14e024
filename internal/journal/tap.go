package journal

import "fmt"

// Frames is one batch of one unit's records as committed, encoded as in a
// segment. A tap receives it under the journal's write lock, so batches
// arrive in sequence order; Data is the journal's buffer, valid only
// during the call.
type Frames struct {
	Boot, Unit string
	Data       []byte
}

// Tap makes fn hear of every batch committed from now on, after it was
// written to its segment: a reader that follows the journal closely (the
// log file router) then needs not read back from the files what was just
// written. fn runs under the write lock: it must copy what it keeps,
// must not block and must not call into the journal. stop ends the tap;
// once it returns fn is not called again.
func (j *Journal) Tap(fn func(Frames)) (stop func()) {
	t := &tap{fn: fn}
	j.wmu.Lock()
	j.taps = append(j.taps, t)
	j.wmu.Unlock()
	return func() {
		j.wmu.Lock()
		defer j.wmu.Unlock()
		for i, o := range j.taps {
			if o == t {
				j.taps = append(j.taps[:i:i], j.taps[i+1:]...)
				return
			}
		}
	}
}

// tap is one registered Tap (a pointer, so that stop finds its own).
type tap struct{ fn func(Frames) }

// tellTapsLocked hands a committed batch to the taps. Called with wmu
// held.
func (j *Journal) tellTapsLocked(unit string, data []byte) {
	for _, t := range j.taps {
		t.fn(Frames{Boot: j.opts.BootID, Unit: unit, Data: data})
	}
}

// Each decodes the batch's entries in order. The Entry is fn's only
// during the call (one is reused: a ~270-byte copy per entry showed in a
// syslog flood's profile); its Message aliases f.Data, its strings are
// shared between consecutive entries that repeat them. An error from fn
// stops the walk and is returned. The frames come from the journal's
// encoder in memory, so their CRCs are not checked.
func (f Frames) Each(fn func(*Entry) error) error {
	var (
		r      rec
		e      Entry
		ident  string
		origin Origin
	)
	for p := 0; p < len(f.Data); p += r.size {
		if !decodeFrame(f.Data, p, 0, &r, false) {
			return fmt.Errorf("journal: unit %q: committed batch undecodable at byte %d of %d", f.Unit, p, len(f.Data))
		}
		if p == 0 || string(r.ident) != ident {
			ident = string(r.ident)
		}
		origin = decodeOriginLike(r.ext, origin)
		if r.flags == flagBatch { // one entry per line
			var err error
			eachLine(&r, func(l *rec) bool {
				e = l.entry(f.Boot, recUnit(l, f.Unit), ident, origin)
				err = fn(&e)
				return err == nil
			})
			if err != nil {
				return err
			}
			continue
		}
		e = r.entry(f.Boot, recUnit(&r, f.Unit), ident, origin)
		if err := fn(&e); err != nil {
			return err
		}
	}
	return nil
}

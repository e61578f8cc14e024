package journal

import (
	"sort"
	"time"
)

// Boot is one boot seen in the journal.
type Boot struct {
	ID          string
	First, Last time.Time // realtime of its first and last entry
	FirstSeq    uint64
}

// listBoots lists the boots of st's segments, oldest first.
func listBoots(st store) []Boot {
	m, _ := compile(Query{}, noLimit)
	byID := map[string]*Boot{}
	for _, segs := range st.views(m) {
		for _, s := range segs {
			if s.empty() {
				continue
			}
			b := byID[s.boot]
			if b == nil {
				b = &Boot{ID: s.boot, FirstSeq: s.blocks[0].firstSeq}
				byID[s.boot] = b
			}
			for _, blk := range s.blocks {
				if first := time.Unix(0, blk.minRT); b.First.IsZero() || first.Before(b.First) {
					b.First = first
				}
				if last := time.Unix(0, blk.maxRT); last.After(b.Last) {
					b.Last = last
				}
			}
			b.FirstSeq = min(b.FirstSeq, s.blocks[0].firstSeq)
		}
	}
	out := make([]Boot, 0, len(byID))
	for _, b := range byID {
		out = append(out, *b)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].FirstSeq < out[b].FirstSeq })
	return out
}

// Boots lists the boots the journal holds entries of, oldest first.
func (j *Journal) Boots() []Boot { return listBoots(j) }

// Boots lists the boots the directory holds entries of, oldest first.
func (r *Reader) Boots() []Boot { return listBoots(r) }

// DefaultDir returns where tend keeps its journal: /var/log/tend/journal
// for the system instance; with user, $XDG_STATE_HOME/tend/journal
// (~/.local/state when XDG_STATE_HOME is unset).
func DefaultDir(user bool, getenv func(string) string) string {
	if !user {
		return "/var/log/tend/journal"
	}
	if d := getenv("XDG_STATE_HOME"); d != "" {
		return d + "/tend/journal"
	}
	return getenv("HOME") + "/.local/state/tend/journal"
}

package journal

import (
	"context"
	"slices"
)

// FieldValues returns the distinct values field takes in the entries q
// selects, sorted (journalctl -F). host is _HOSTNAME's value; keep, when
// set, leaves out the entries it returns false for (access control).
func (j *Journal) FieldValues(ctx context.Context, q Query, field, host string, keep func(Entry) bool) ([]string, error) {
	return fieldValues(ctx, j, j.committed.Load(), q, field, host, keep)
}

// FieldValues is Journal.FieldValues over the reader's catalog.
func (r *Reader) FieldValues(ctx context.Context, q Query, field, host string, keep func(Entry) bool) ([]string, error) {
	return fieldValues(ctx, r, noLimit, q, field, host, keep)
}

func fieldValues(ctx context.Context, st store, hi uint64, q Query, field, host string, keep func(Entry) bool) ([]string, error) {
	seen := map[string]struct{}{}
	_, err := runQuery(ctx, st, q, hi, func(e Entry) error {
		if keep != nil && !keep(e) {
			return nil
		}
		if v, ok := EntryField(e, field, host); ok {
			if _, dup := seen[string(v)]; !dup {
				seen[string(v)] = struct{}{}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	slices.Sort(out)
	return out, nil
}

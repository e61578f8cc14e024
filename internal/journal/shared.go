package journal

import (
	"path"
	"slices"
	"strings"

	"github.com/tendproject/tend/internal/unit"
)

// Shared streams: the per-connection instances of an Accept=yes socket
// come and go by the thousand, and a directory and segment of their own
// each would cost a mkdir, a create, an index and three fsyncs per
// connection. Such an instance is stored in its template's stream
// instead (foo@.service for foo@3-….service), each record carrying the
// instance's name in its ext block (extUnit), so queries still select
// and show it by name. Journals written before keep one directory per
// instance and read as before; readers that do not know extUnit show
// such records under the template.

// Share stores unit's entries in store's stream from now on, until
// Release(unit). store is normally unit's template.
func (j *Journal) Share(unit, store string) {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	if j.shared == nil {
		j.shared = map[string]sharedUnit{}
	}
	j.shared[unit] = sharedUnit{store: store}
}

// sharedUnit is a unit whose entries go to another's stream.
type sharedUnit struct {
	store string
	// released: Release was called while pipes of the unit were still
	// read; the last one's end forgets the unit.
	released bool
}

// storeLocked is the stream unit's records go to, and adds unit's name
// to them when that is another's.
func (j *Journal) storeLocked(unit string, recs []rec) string {
	sh, ok := j.shared[unit]
	if !ok || sh.store == unit {
		return unit
	}
	v := unit[:min(len(unit), maxUnitLen)]
	for i := range recs {
		// Clipped: the split parts of one entry share their Origin's block.
		recs[i].ext = appendExt(slices.Clip(recs[i].ext), extUnit, v, maxUnitLen)
	}
	return sh.store
}

// recUnit is the unit r belongs to: the one its ext block names in a
// shared stream, else its segment's.
func recUnit(r *rec, stream string) string {
	if r.ext != nil && isTemplate(stream) {
		if v, ok := extField(r.ext, extUnit); ok {
			return string(v)
		}
	}
	return stream
}

// instanceOf says whether name is an instance of template
// ("foo@x.service" of "foo@.service").
func instanceOf(name, template string) bool {
	p, inst, k := unit.SplitName(name)
	tp, tinst, tk := unit.SplitName(template)
	return inst != "" && tinst == "" && tp == p && tk == k && isTemplate(template)
}

// isTemplate is unit.IsTemplate for code whose unit names are in
// variables called unit.
func isTemplate(name string) bool { return unit.IsTemplate(name) }

// store says whether the stream (directory) named dir may hold entries
// the query selects: its own, or, for a template's shared stream, those
// of an instance a pattern may name.
func (m *matcher) store(dir string) bool {
	if m.unit(dir) {
		return true
	}
	if !isTemplate(dir) {
		return false
	}
	for _, p := range m.units {
		if strings.ContainsAny(p, "*?[") || instanceOf(p, dir) {
			return true
		}
	}
	return false
}

// unitPattern says whether pattern p selects unit name: a glob match, a
// bare name for NAME.service as journalctl -u takes it, or a template's
// name for each of its instances.
func unitPattern(p, name string) bool {
	if ok, _ := path.Match(p, name); ok {
		return true
	}
	if !strings.ContainsAny(p, ".*?[") && name == p+".service" {
		return true
	}
	return !strings.ContainsAny(p, "*?[") && instanceOf(name, p)
}

package supervise

import (
	"encoding/hex"
	"encoding/json"
	"time"
)

// Most of a big state file is timers that wait and have not fired
// (10,000 crontab-like timers: 2 MB), and such a timer's part is made of
// what its unit holds anyway: its name, since, invocation and start
// time, and the manager's start. Kept encoded between writes, as other
// units' parts are, it cost ~265 B of heap a timer, more than the rest
// of a waiting timer; it is encoded at each write instead, by hand
// (~0.2 µs a timer), as json.Marshal of its SavedUnit would encode it.

// plainTimer reports whether u is a waiting timer whose part of the
// state file is encoded at each write rather than kept (appendPlainTimer).
func plainTimer(u *rt) (*timer, bool) {
	t, ok := u.eng.(*timer)
	if !ok || u.state != Waiting || u.result != ResultSuccess || u.transient != nil || len(u.startTimes) > 1 {
		return nil, false
	}
	if !t.last.IsZero() || t.lastWall || t.spent != 0 || !t.unitUp.IsZero() || !t.unitDown.IsZero() {
		return nil, false
	}
	return t, true
}

// appendPlainTimer appends the JSON of plain timer u's SavedUnit, which
// a restore reads back as saveUnit's; startup is the manager's start,
// encoded (empty when the timers have no environment yet).
func appendPlainTimer(b []byte, u *rt, startup []byte) []byte {
	b = append(b, `{"name":`...)
	b = appendJSONString(b, u.name)
	b = append(b, `,"kind":"timer","state":`...)
	b = appendJSONString(b, u.state.String())
	b = append(b, `,"result":`...)
	b = appendJSONString(b, string(u.result))
	var since []byte // its encoding, within b
	if !u.since.IsZero() {
		b = append(b, `,"since":`...)
		lo := len(b)
		b = appendJSONTime(b, u.since)
		since = b[lo:]
	}
	if u.invocation != (invocationID{}) {
		b = append(b, `,"invocation":"`...)
		b = hex.AppendEncode(b, u.invocation[:])
		b = append(b, '"')
	}
	if len(u.startTimes) == 1 {
		b = append(b, `,"start_times":[`...)
		if s := u.startTimes[0]; since != nil && s.Equal(u.since) && s.Location() == u.since.Location() {
			b = append(b, since...) // the same time: encoded once
		} else {
			b = appendJSONTime(b, s)
		}
		b = append(b, ']')
	}
	b = append(b, `,"engine":{`...)
	if len(startup) > 0 {
		b = append(b, `"startup":`...)
		b = append(b, startup...)
	}
	return append(b, "}}"...)
}

// appendJSONTime appends t as time.Time's MarshalJSON does.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendJSONString appends s as a JSON string; unit names need no
// escaping but for the odd backslash, which json.Marshal takes care of.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

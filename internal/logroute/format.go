package logroute

import (
	"encoding/binary"
	"strconv"

	"github.com/tendproject/tend/internal/journal"
)

// format appends e as a line in the traditional syslog file format,
// "Mmm dd hh:mm:ss HOST TAG[PID]: MSG", the one sysklogd writes and
// rsyslog's RSYSLOG_TraditionalFileFormat. A relayed message keeps its
// host and its own time. Control characters in the message become #ooo
// (octal), as rsyslog writes them, so one entry stays one line.
func (r *Router) format(b []byte, e *journal.Entry) []byte {
	t := e.Realtime
	if !e.Origin.Time.IsZero() {
		t = e.Origin.Time
	}
	if sec := t.Unix(); sec != r.stampSec || len(r.stamp) == 0 {
		// Lines come many per second: format each second once.
		r.stampSec, r.stamp = sec, t.In(r.opts.Location).AppendFormat(r.stamp[:0], "Jan _2 15:04:05 ")
	}
	b = append(b, r.stamp...)
	host := r.opts.Hostname
	if e.Origin.Hostname != "" {
		host = e.Origin.Hostname
	}
	b = append(append(b, host...), ' ')
	ident := e.Identifier
	if ident == "" {
		ident = e.Unit
	}
	if ident == "" {
		ident = "tend"
	}
	b = append(b, ident...)
	if e.PID > 0 {
		b = append(strconv.AppendInt(append(b, '['), int64(e.PID), 10), ']')
	}
	b = append(b, ": "...)
	return append(appendEscaped(b, e.Message), '\n')
}

// appendEscaped appends msg with control characters other than tab as
// "#" and three octal digits. It looks at eight bytes at a time: the
// check ran byte by byte over every message and was ~7% of tend's CPU
// writing syslog files from TCP.
func appendEscaped(b, msg []byte) []byte {
	start, i := 0, 0
	for i < len(msg) {
		if i+8 <= len(msg) && !hasControl(binary.LittleEndian.Uint64(msg[i:])) {
			i += 8
			continue
		}
		if c := msg[i]; c < 0x20 && c != '\t' || c == 0x7f {
			b = append(b, msg[start:i]...)
			b = append(b, '#', '0'+c>>6, '0'+c>>3&7, '0'+c&7)
			start = i + 1
		}
		i++
	}
	return append(b, msg[start:]...)
}

// hasControl reports whether a byte of w is below 0x20 or is 0x7f (tab
// counts: the caller looks at such a word byte by byte). Exact for every
// byte, as the borrow of a subtraction cannot make a false positive here:
// bytes ≥ 0x80 are masked out by ^w, and a borrow only comes from a byte
// that is itself below 0x20.
func hasControl(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	del := w ^ (0x7f * ones)
	return ((w-0x20*ones)|(del-ones))&^w&highs != 0
}

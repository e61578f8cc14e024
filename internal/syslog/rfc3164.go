package syslog

import (
	"bytes"
	"time"
)

// maxTagLen bounds the tag (APP-NAME) of an RFC 3164 message. The RFC says
// 32; real programs use longer names, so allow what RFC 5424 allows.
const maxTagLen = 48

// monthNames are the RFC 3164 month abbreviations, January first.
var monthNames = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// parse3164 parses b, the part after the PRI, as "TIMESTAMP HOSTNAME
// TAG[PID]: MSG", as the hostname-less local form "TIMESTAMP TAG[PID]:
// MSG" that syslog(3) writes to /dev/log, or as "TAG[PID]: MSG" without a
// timestamp. It reports false when none of these match.
func parse3164(m *Message, b []byte, now time.Time, sc *scratch) bool {
	t, rest, ok := stamp3164(b, now, sc)
	if !ok {
		// Without a timestamp only an explicit tag makes it a header.
		app, pid, msg, ok := tag(b, false, sc)
		if !ok {
			return false
		}
		m.AppName, m.ProcID, m.Msg = app, pid, msg
		m.Format = FormatRFC3164
		return true
	}
	m.Time = t
	m.Format = FormatRFC3164
	if app, pid, msg, ok := tag(rest, false, sc); ok {
		m.AppName, m.ProcID, m.Msg = app, pid, msg
		return true
	}
	host, after, found := bytes.Cut(rest, []byte{' '})
	if !found || !validHostname(host) {
		m.Msg = rest
		return true
	}
	m.Hostname = sc.str(host)
	// After a hostname the next word is the tag even without a colon, as
	// rsyslog reads it (and writes it when forwarding RFC 5424 input).
	if app, pid, msg, ok := tag(after, true, sc); ok {
		m.AppName, m.ProcID, m.Msg = app, pid, msg
	} else {
		m.Msg = after
	}
	return true
}

// validHostname accepts a non-empty run of printable US-ASCII; the tag
// check before it has already claimed words ending in ':' or "[pid]".
func validHostname(b []byte) bool {
	return len(b) > 0 && len(b) <= 255 && printable(b)
}

// stamp3164 parses the timestamp that opens b and the space after it:
// "Mmm dd hh:mm:ss" (dd space-padded) or an RFC 3339 timestamp as rsyslog
// sends in its high-precision formats.
func stamp3164(b []byte, now time.Time, sc *scratch) (time.Time, []byte, bool) {
	if i := bytes.IndexByte(b, ' '); i >= 20 && len(b) > 4 && isDigit(b[0]) && b[4] == '-' {
		t, err := time.Parse(time.RFC3339Nano, string(b[:i]))
		if err != nil {
			return time.Time{}, nil, false
		}
		return t, b[i+1:], true
	}
	if len(b) < 15 || b[3] != ' ' || b[6] != ' ' || b[9] != ':' || b[12] != ':' {
		return time.Time{}, nil, false
	}
	rest := b[15:]
	if len(rest) > 0 {
		if rest[0] != ' ' {
			return time.Time{}, nil, false
		}
		rest = rest[1:]
	}
	if t, ok, hit := sc.cachedStamp(b[:15], now); hit {
		return t, rest, ok
	}
	t, ok := classicStamp(b[:15], now)
	sc.keepStamp(b[:15], now, t, ok)
	return t, rest, ok
}

// classicStamp reads "Mmm dd hh:mm:ss" (dd space-padded) as the time
// nearest to now.
func classicStamp(b []byte, now time.Time) (time.Time, bool) {
	mon, ok := month(b[:3])
	day, ok1 := num2(b[4], b[5], true)
	hh, ok2 := num2(b[7], b[8], false)
	mm, ok3 := num2(b[10], b[11], false)
	ss, ok4 := num2(b[13], b[14], false)
	if !ok || !ok1 || !ok2 || !ok3 || !ok4 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, false
	}
	ss = min(ss, 59) // a leap second has no time.Time; keep the message
	return nearestYear(mon, day, hh, mm, ss, now)
}

// month is the month an RFC 3164 abbreviation names.
func month(b []byte) (time.Month, bool) {
	for m, name := range monthNames {
		if name == string(b) {
			return time.Month(m + 1), true
		}
	}
	return 0, false
}

// num2 parses two decimal digits; with spacePad the first may be a space.
func num2(a, b byte, spacePad bool) (int, bool) {
	if spacePad && a == ' ' {
		a = '0'
	}
	if !isDigit(a) || !isDigit(b) {
		return 0, false
	}
	return int(a-'0')*10 + int(b-'0'), true
}

// nearestYear picks the year for a yearless timestamp that puts it closest
// to now, so that December messages read in January land in the old year.
// It reports false for a day that exists in none of the candidate years.
func nearestYear(mon time.Month, day, hh, mm, ss int, now time.Time) (time.Time, bool) {
	// Usually this year's date is within half a year of now, and then no
	// other year's can be nearer: skip computing them.
	if t := time.Date(now.Year(), mon, day, hh, mm, ss, 0, now.Location()); t.Month() == mon && t.Sub(now).Abs() < 182*24*time.Hour {
		return t, true
	}
	var best time.Time
	var bestDist time.Duration
	for y := now.Year() - 1; y <= now.Year()+1; y++ {
		t := time.Date(y, mon, day, hh, mm, ss, 0, now.Location())
		if t.Month() != mon { // Feb 29 outside a leap year, Apr 31, ...
			continue
		}
		d := t.Sub(now).Abs()
		if best.IsZero() || d < bestDist {
			best, bestDist = t, d
		}
	}
	return best, !best.IsZero()
}

// tag parses "NAME[PID]: ", "NAME[PID] ", or "NAME: " at the start of b and
// returns the message after it; loose also accepts "NAME ". A single space
// after the tag belongs to the header.
func tag(b []byte, loose bool, sc *scratch) (app, pid string, msg []byte, ok bool) {
	i := 0
	for i < len(b) && i <= maxTagLen && b[i] > 32 && b[i] < 127 && b[i] != '[' && b[i] != ':' {
		i++
	}
	if i == 0 || i > maxTagLen || i == len(b) {
		return "", "", nil, false
	}
	name, rest := b[:i], b[i:]
	if rest[0] == '[' {
		j := bytes.IndexByte(rest, ']')
		if j < 2 || !printable(rest[1:j]) {
			return "", "", nil, false
		}
		pid, rest = sc.str(rest[1:j]), rest[j+1:]
		if len(rest) > 0 && rest[0] == ':' {
			rest = rest[1:]
		}
	} else if rest[0] == ':' {
		rest = rest[1:]
	} else if !loose {
		// Not a tag (a relayed message's host name comes first): the
		// name is not made a string for nothing.
		return "", "", nil, false
	}
	app = sc.str(name)
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	return app, pid, rest, true
}

// printable reports whether b is printable US-ASCII without spaces.
func printable(b []byte) bool {
	for _, c := range b {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

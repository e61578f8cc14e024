package journal

import (
	"encoding/binary"
	"time"
)

// Origin is what a syslog sender says about itself beyond the kernel's
// credentials. Local programs leave most of it empty; messages from other
// machines carry their host name, source address and own timestamp.
type Origin struct {
	Hostname       string    // the sender's HOSTNAME (_HOSTNAME); "" for this machine
	Address        string    // network source address (TEND_SOURCE_ADDRESS)
	Time           time.Time // the sender's own timestamp (SYSLOG_TIMESTAMP)
	MsgID          string    // RFC 5424 MSGID (SYSLOG_MSGID)
	StructuredData string    // RFC 5424 STRUCTURED-DATA as sent (SYSLOG_STRUCTURED_DATA)
}

// IsZero reports whether o carries nothing.
func (o Origin) IsZero() bool { return o == Origin{} }

// Tags of the fields in a record's ext block. Readers skip tags they do
// not know, so fields can be added without a format change.
const (
	extHostname = 1 + iota
	extAddress
	extTime
	extMsgID
	extSD
	extUnit // the entry's unit, in a shared stream (shared.go)
)

// Bounds of the ext block: the header fields keep RFC 5424's lengths and
// structured data gets 32 KiB, so the block fits its u16 length.
const (
	maxSDLen   = 32 << 10
	maxHostLen = 255
	maxAddrLen = 64
	maxIDLen   = 32
	maxUnitLen = 256 // systemd's UNIT_NAME_MAX
	maxExtLen  = 6*3 + maxHostLen + maxAddrLen + 8 + maxIDLen + maxSDLen + maxUnitLen
)

// encode returns o as an ext block, nil when o is zero. Over-long fields
// are cut to their bounds.
func (o Origin) encode() []byte {
	if o.IsZero() {
		return nil
	}
	return o.appendTo(make([]byte, 0, 5*3+8+len(o.Hostname)+len(o.Address)+len(o.MsgID)+len(o.StructuredData)))
}

// appendTo appends o's ext block to b (nothing when o is zero): a batch
// of entries encodes into one buffer rather than one allocation each.
func (o Origin) appendTo(b []byte) []byte {
	if o.IsZero() {
		return b
	}
	b = appendExt(b, extHostname, o.Hostname, maxHostLen)
	b = appendExt(b, extAddress, o.Address, maxAddrLen)
	if !o.Time.IsZero() {
		b = append(b, extTime, 8, 0)
		b = binary.LittleEndian.AppendUint64(b, uint64(o.Time.UnixNano()))
	}
	b = appendExt(b, extMsgID, o.MsgID, maxIDLen)
	return appendExt(b, extSD, o.StructuredData, maxSDLen)
}

// appendExt appends field tag with v cut to n bytes; nothing when empty.
func appendExt(b []byte, tag byte, v string, n int) []byte {
	if v = v[:min(len(v), n)]; v == "" {
		return b
	}
	b = append(b, tag)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// decodeOrigin is the inverse of encode; a damaged block yields what
// decoded before the damage (the record's CRC already vouched for it).
func decodeOrigin(b []byte) Origin { return decodeOriginLike(b, Origin{}) }

// decodeOriginLike is decodeOrigin taking prev's strings where they are
// equal: consecutive records of one sender repeat its host and address,
// and a reader (a follower writing files) would otherwise allocate them
// for every record.
func decodeOriginLike(b []byte, prev Origin) Origin {
	var o Origin
	walkExt(b, func(tag byte, v []byte) {
		switch tag {
		case extHostname:
			o.Hostname = sameOrNew(v, prev.Hostname)
		case extAddress:
			o.Address = sameOrNew(v, prev.Address)
		case extTime:
			if len(v) == 8 {
				o.Time = time.Unix(0, int64(binary.LittleEndian.Uint64(v)))
			}
		case extMsgID:
			o.MsgID = sameOrNew(v, prev.MsgID)
		case extSD:
			o.StructuredData = sameOrNew(v, prev.StructuredData)
		}
	})
	return o
}

// sameOrNew returns s when it holds v, else v as a new string.
func sameOrNew(v []byte, s string) string {
	if string(v) == s {
		return s
	}
	return string(v)
}

// extField returns the raw value of tag in an ext block, for matches that
// do not build an Entry.
func extField(b []byte, tag byte) (val []byte, ok bool) {
	walkExt(b, func(t byte, v []byte) {
		if t == tag && !ok {
			val, ok = v, true
		}
	})
	return val, ok
}

func walkExt(b []byte, fn func(tag byte, v []byte)) {
	for len(b) >= 3 {
		n := int(binary.LittleEndian.Uint16(b[1:]))
		if 3+n > len(b) {
			return
		}
		fn(b[0], b[3:3+n])
		b = b[3+n:]
	}
}

// appendOriginFields adds the journald-style fields of o that are set.
func appendOriginFields(fs []field, o Origin) []field {
	if o.Address != "" {
		fs = append(fs, field{"TEND_SOURCE_ADDRESS", []byte(o.Address)})
	}
	if !o.Time.IsZero() {
		fs = append(fs, field{"SYSLOG_TIMESTAMP", o.Time.AppendFormat(nil, time.RFC3339Nano)})
	}
	if o.MsgID != "" {
		fs = append(fs, field{"SYSLOG_MSGID", []byte(o.MsgID)})
	}
	if o.StructuredData != "" {
		fs = append(fs, field{"SYSLOG_STRUCTURED_DATA", []byte(o.StructuredData)})
	}
	return fs
}

// originRecordField is recordField for the fields kept in the ext block;
// scratch holds a formatted timestamp.
func originRecordField(name string, ext []byte, scratch *[]byte) ([]byte, bool) {
	switch name {
	case "TEND_SOURCE_ADDRESS":
		return extField(ext, extAddress)
	case "SYSLOG_MSGID":
		return extField(ext, extMsgID)
	case "SYSLOG_STRUCTURED_DATA":
		return extField(ext, extSD)
	case "SYSLOG_TIMESTAMP":
		v, ok := extField(ext, extTime)
		if !ok || len(v) != 8 {
			return nil, false
		}
		t := time.Unix(0, int64(binary.LittleEndian.Uint64(v)))
		*scratch = t.AppendFormat((*scratch)[:0], time.RFC3339Nano)
		return *scratch, true
	}
	return nil, false
}

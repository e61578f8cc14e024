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
	b := make([]byte, 0, 5*3+8+len(o.Hostname)+len(o.Address)+len(o.MsgID)+len(o.StructuredData))
	// put appends v cut to n bytes.
	put := func(tag byte, v string, n int) {
		if v = v[:min(len(v), n)]; v == "" {
			return
		}
		b = append(b, tag)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
		b = append(b, v...)
	}
	put(extHostname, o.Hostname, maxHostLen)
	put(extAddress, o.Address, maxAddrLen)
	if !o.Time.IsZero() {
		var t [8]byte
		binary.LittleEndian.PutUint64(t[:], uint64(o.Time.UnixNano()))
		put(extTime, string(t[:]), 8)
	}
	put(extMsgID, o.MsgID, maxIDLen)
	put(extSD, o.StructuredData, maxSDLen)
	return b
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

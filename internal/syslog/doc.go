// Package syslog speaks the BSD syslog protocols for tend: it receives
// messages on /dev/log (with the sender's kernel-verified credentials) and on
// optional UDP/TCP listeners, parses RFC 3164 and RFC 5424 leniently so that
// no datagram is ever lost to a parse error, rate-limits floods per sender,
// and forwards journal records to a central syslog server over UDP, TCP or
// TLS with a persisted cursor.
//
// The package does not know the journal: receivers hand Messages to a
// Handler and the forwarder reads Records from a Source; the daemon adapts
// both to internal/journal. The protocol choices are described in
// docs/syslog.md.
package syslog

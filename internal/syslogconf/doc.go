// Package syslogconf reads the routing rules of /etc/syslog.conf and the
// legacy selector lines of rsyslog.conf: which facilities and priorities go
// to which files, named pipes, remote servers and users' terminals. It is
// pure: it parses text into Rules and answers whether a rule selects a
// message; internal/logroute carries the rules out.
//
// Every problem is an error "file:line: message" that costs only its own
// line; rsyslog's RainerScript statements are refused the same way, and a
// legacy "$Directive" tend does not apply is warned about by name.
package syslogconf

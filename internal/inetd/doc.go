// Package inetd reads the configuration of the classic super-servers —
// inetd.conf as openbsd-inetd(8) defines it and xinetd.conf(5) with its
// includedir — into socket units and service templates, the way a
// systemd generator would: as unit text that the unit loader reads like
// any other file, each naming its source file:line.
//
// It has no runtime of its own: the socket engine (internal/activate)
// serves what it generates. Unit names are "inetd-SERVICE-PROTO"
// ("inetd-echo-tcp.socket", "inetd-telnet-tcp6@.service"), with
// "-HOST" added for an explicit listening address, and
// "xinetd-ID" for xinetd services (the id attribute, which defaults to
// the service name). See docs/inetd.md for how each column and attribute
// maps.
package inetd

// Package unit reads systemd-style unit files into typed units.
//
// It owns the file syntax (sections, comments, continuation lines,
// quoting), drop-ins, templates and instances, specifiers, the unit
// search path with its aliases and masks, and the conversion of raw
// assignments into the typed model in types.go with systemd's defaults.
// Every problem is reported as a Diag ("file:line: message"); a bad
// directive is dropped and the rest of the unit still loads. The package
// does no I/O beyond reading the files and directories it is given.
package unit

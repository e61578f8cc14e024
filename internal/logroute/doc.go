// Package logroute writes the views of the journal that syslog.conf asks
// for: the files, named pipes and users' terminals its selector lines name.
// The journal stays the source of truth. A Router follows it from a cursor
// persisted with the size each file had at that cursor, so that after a
// crash of tend it cuts what a file got past the cursor and writes it
// again: no line is lost or doubled. Files are reopened on request (SIGHUP,
// `tend reload-logs`) and when inotify reports them removed or replaced,
// so logrotate works unchanged. Forwarding rules (@host) are carried out
// by internal/syslog's Forwarder, which the daemon starts.
package logroute

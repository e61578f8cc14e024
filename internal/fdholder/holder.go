// Package fdholder keeps duplicates of descriptors outside the manager
// (s6-fdholder's idea), so that a crash of tend loses none of them: the
// read ends of the journal's pipes (a service writing while tend is down
// blocks at worst, never gets EPIPE) and the listeners of socket units
// (a client connecting meanwhile is queued, not refused).
//
// The holder is a tiny process (`tend fdholder`, package holderproc)
// serving a unix seqpacket socket. It never reads from what it holds.
// One message is one request; descriptors travel as SCM_RIGHTS:
//
//	'S' name  + 1 fd   store (replacing a descriptor of that name)
//	'D' name           drop
//	'L'                list: one 'F' name + fd per entry, then 'E'
//	'B'                list in batches: 'G' then per entry a 2-byte
//	                   little-endian length and the name, with as many
//	                   fds in the same order (at most BatchFDs), …, then 'E'
//	'M' [grace]        the sender's process manages the holder from now
//	                   on; grace (optional, 8 bytes little-endian, in
//	                   milliseconds; 0 for ever) is how long the holder
//	                   waits for a new manager once it is gone, then exits
//	'X'                exit
//
// S, D, M and X are answered with 'K', or '!' and the reason. This
// package is tend's side: the client and its send queue.
package fdholder

import "github.com/tendproject/tend/internal/fdholder/holderproc"

// Limits bound the holder whatever a client sends.
const (
	MaxName    = holderproc.MaxName
	MaxEntries = holderproc.MaxEntries
	msgMax     = holderproc.MsgMax
	batchFDs   = holderproc.BatchFDs
	batchMax   = holderproc.BatchMax
)

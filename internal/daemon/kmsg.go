package daemon

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/journal"
	"github.com/tendproject/tend/internal/kmsg"
)

// kmsgPath is the kernel's log device.
const kmsgPath = "/dev/kmsg"

// startKmsg copies the kernel's log into the journal until ctx ends. The
// sequence number of the last record stored is kept beside the journal
// with the boot id, so that a restart of tend in the same boot goes on
// after it and a new boot starts with the kernel's oldest record.
func (d *daemon) startKmsg(ctx context.Context, wg *sync.WaitGroup) {
	if !d.cfg.Kmsg {
		return
	}
	state := filepath.Join(d.cfg.Paths.Journal, "kmsg.state")
	boot := d.journal.BootID()
	after := loadKmsgState(state, boot)
	// The records carry time since boot; their wall-clock time is the
	// boot's wall-clock start plus that.
	var mono unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono)
	booted := time.Now().Add(-time.Duration(mono.Nano()))
	warned := false
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := kmsg.Follow(ctx, kmsgPath, after, func(r kmsg.Record) {
			_ = d.journal.Append(kmsgEntry(r, booted))
			_ = saveKmsgState(state, boot, r.Seq)
		}, func(err error) {
			if !warned {
				d.log.Warn("kernel log: records lost", "err", err)
				warned = true
			}
		})
		if err != nil {
			d.log.Warn("not reading the kernel log", "err", err)
		}
	}()
}

// kmsgEntry is a kernel record as a journal entry: SYSLOG_IDENTIFIER is
// "kernel" for the kernel's own messages, the leading "tag:" for those
// programs wrote to /dev/kmsg.
func kmsgEntry(r kmsg.Record, booted time.Time) journal.Entry {
	e := journal.Entry{
		Realtime: booted.Add(r.Monotonic), Monotonic: r.Monotonic,
		Priority: r.Priority, Facility: r.Facility, Identifier: "kernel",
		Stream: journal.StreamKernel, UID: -1, Message: r.Message,
	}
	if r.Facility != 0 {
		if tag, msg, ok := bytes.Cut(r.Message, []byte(": ")); ok && len(tag) > 0 && len(tag) <= 48 && !bytes.ContainsAny(tag, " \t") {
			e.Identifier, e.Message = string(tag), msg
		}
	}
	return e
}

func loadKmsgState(path, boot string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	id, seq, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	if id != boot {
		return 0
	}
	n, _ := strconv.ParseUint(seq, 10, 64)
	return n
}

// saveKmsgState replaces the state by rename, so a crash leaves the old
// or the new one; at worst one record is stored twice.
func saveKmsgState(path, boot string, seq uint64) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(boot+" "+strconv.FormatUint(seq, 10)+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

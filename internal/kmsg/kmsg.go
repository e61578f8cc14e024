// Package kmsg reads the kernel's log buffer through /dev/kmsg, one
// record per read, as structured records (priority, facility, sequence
// number, monotonic timestamp, message), so that the journal holds kernel
// messages and `tend logs -k` shows them.
package kmsg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Record is one kernel log record.
type Record struct {
	Facility, Priority int
	Seq                uint64
	// Monotonic is the kernel's timestamp: time since boot.
	Monotonic time.Duration
	// Continuation is set for a fragment continuing the previous record
	// (flag 'c' of old kernels).
	Continuation bool
	// Message is the text with the kernel's \xNN escapes decoded.
	Message []byte
}

// Parse parses one record as read from /dev/kmsg:
// "PRI,SEQ,TIMESTAMP_US,FLAGS[,…];MESSAGE\n" followed by optional
// " KEY=VALUE" dictionary lines, which are ignored.
func Parse(b []byte) (Record, error) {
	var r Record
	head, rest, ok := bytes.Cut(b, []byte{';'})
	if !ok {
		return r, errors.New("kmsg record without ';'")
	}
	f := bytes.Split(head, []byte{','})
	if len(f) < 4 {
		return r, fmt.Errorf("kmsg record header %q: want PRI,SEQ,TIMESTAMP,FLAGS", head)
	}
	pri, err1 := strconv.ParseUint(string(f[0]), 10, 16)
	seq, err2 := strconv.ParseUint(string(f[1]), 10, 64)
	ts, err3 := strconv.ParseUint(string(f[2]), 10, 63)
	if err1 != nil || err2 != nil || err3 != nil || pri > 1023 || ts > uint64(1<<63-1)/1000 {
		return r, fmt.Errorf("kmsg record header %q: bad number", head)
	}
	r.Facility, r.Priority = min(int(pri>>3), 23), int(pri&7)
	r.Seq, r.Monotonic = seq, time.Duration(ts)*time.Microsecond
	r.Continuation = bytes.Contains(f[3], []byte{'c'})
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i] // the dictionary follows
	}
	r.Message = unescape(rest)
	return r, nil
}

// unescape decodes the kernel's "\xNN" escapes of unprintable bytes.
func unescape(b []byte) []byte {
	if bytes.IndexByte(b, '\\') < 0 {
		return bytes.Clone(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+3 < len(b) && b[i+1] == 'x' {
			if v, err := strconv.ParseUint(string(b[i+2:i+4]), 16, 8); err == nil {
				out = append(out, byte(v))
				i += 3
				continue
			}
		}
		out = append(out, b[i])
	}
	return out
}

// maxRecord is larger than any record the kernel hands out (its limit is
// about 1 KiB of text plus the dictionary); a smaller buffer makes the
// read fail with EINVAL.
const maxRecord = 16 << 10

// Follow reads records from path (/dev/kmsg) from the oldest the kernel
// still holds, calling fn for each whose sequence number is above after,
// until ctx ends (then it returns nil). Records the kernel overwrote before
// they were read are counted and reported through lost.
func Follow(ctx context.Context, path string, after uint64, fn func(Record), lost func(error)) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	// In Go's poller: a read waits for the next record without a thread.
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, maxRecord)
	for {
		n, err := f.Read(buf)
		switch {
		case errors.Is(err, unix.EPIPE):
			lost(errors.New("the kernel overwrote records before they were read"))
			continue
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read %s: %w", path, err)
		}
		r, err := Parse(buf[:n])
		if err != nil {
			lost(err)
			continue
		}
		if r.Seq > after || after == 0 && r.Seq == 0 {
			fn(r)
		}
	}
}

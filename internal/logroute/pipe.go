package logroute

import (
	"errors"
	"log/slog"

	"golang.org/x/sys/unix"
)

// pipe is a named-pipe destination ("|/path"). Like syslogd, tend never
// blocks on it: with no reader, or a full pipe, the lines are dropped and
// counted, and the count is reported once the pipe takes lines again.
// buf belongs to the Router's goroutine, the rest to Router.mu.
type pipe struct {
	path    string
	buf     []byte
	fd      int // -1 or 0 when closed (0 is never a pipe tend opens: Go keeps 0-2 open)
	dropped int // lines dropped since the last report
	warned  bool
}

// flush writes the buffered lines. Called with Router.mu held.
func (p *pipe) flush(log *slog.Logger) {
	defer func() { p.buf = p.buf[:0] }()
	if len(p.buf) == 0 {
		return
	}
	if p.fd <= 0 {
		// A raw non-blocking descriptor, outside Go's poller: a full
		// pipe returns EAGAIN at once instead of parking the writer.
		fd, err := unix.Open(p.path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			p.drop(log, err)
			return
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
			unix.Close(fd)
			p.drop(log, errors.New("not a named pipe"))
			return
		}
		p.fd = fd
	}
	if _, err := unix.Write(p.fd, p.buf); err != nil {
		p.drop(log, err)
		if !errors.Is(err, unix.EAGAIN) {
			p.close()
		}
		return
	}
	if p.dropped > 0 {
		log.Warn("log pipe: lines were dropped while it had no reader or was full", "pipe", p.path, "lines", p.dropped)
		p.dropped, p.warned = 0, false
	}
}

func (p *pipe) drop(log *slog.Logger, err error) {
	for _, c := range p.buf {
		if c == '\n' {
			p.dropped++
		}
	}
	if !p.warned {
		log.Warn("log pipe: dropping lines", "pipe", p.path, "err", err)
		p.warned = true
	}
}

func (p *pipe) close() {
	if p.fd > 0 {
		unix.Close(p.fd)
		p.fd = 0
	}
}

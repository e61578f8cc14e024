package logroute

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tendproject/tend/internal/journal"
	"github.com/tendproject/tend/internal/syslogconf"
)

const waitTimeout = 20 * time.Second

func openJournal(t *testing.T) *journal.Journal {
	t.Helper()
	j, err := journal.Open(journal.Options{Dir: t.TempDir(), BootID: "b", MaxUse: 1 << 30, KeepFree: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// conf parses syslog.conf text with DIR replaced by dir.
func conf(t testing.TB, dir, text string) *syslogconf.Config {
	t.Helper()
	cfg, errs := syslogconf.Parse("test.conf", strings.NewReader(strings.ReplaceAll(text, "DIR", dir)))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return cfg
}

// runRouter runs a Router until the returned stop is called.
func runRouter(t *testing.T, opts Options) (r *Router, stop func()) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Hostname, opts.Location = "host", time.UTC
	r = New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	// Run saves a state before it follows the journal: from then on,
	// every new entry is routed.
	waitFile(t, opts.StateFile, exists(opts.StateFile))
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return r, stop
}

var at = time.Date(2026, 12, 2, 9, 5, 7, 0, time.UTC)

func add(j *journal.Journal, fac, pri int, ident, msg string) {
	j.Append(journal.Entry{Realtime: at, Facility: fac, Priority: pri, Identifier: ident, PID: 42, UID: -1,
		Stream: journal.StreamSyslog, Message: []byte(msg)})
}

// waitFile waits, on inotify events of its directory, until cond holds
// for the file's content.
func waitFile(t *testing.T, path string, cond func(string) bool) string {
	t.Helper()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.InotifyAddWatch(fd, filepath.Dir(path), unix.IN_CREATE|unix.IN_MODIFY|unix.IN_MOVED_TO); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitTimeout)
	buf := make([]byte, 4096)
	for {
		b, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if cond(string(b)) {
			return string(b)
		}
		left := time.Until(deadline)
		if left <= 0 {
			t.Fatalf("timed out waiting for %s; it holds:\n%s", path, b)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		_, _ = unix.Poll(fds, int(left.Milliseconds())+1)
		for {
			if _, err := unix.Read(fd, buf); err != nil {
				break
			}
		}
	}
}

func exists(path string) func(string) bool {
	return func(string) bool { _, err := os.Stat(path); return err == nil }
}

func hasLine(s string) func(string) bool {
	return func(b string) bool { return strings.Contains(b, s) }
}

func TestRouteBySelector(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t)
	cfg := conf(t, dir, `
mail.*				-DIR/mail.log
*.info;mail.none;local7.none	DIR/messages
auth,authpriv.*			DIR/secure
local7.*			~
*.*				DIR/all.log
`)
	runRouter(t, Options{Config: cfg, Journal: j, StateFile: filepath.Join(dir, "state")})
	add(j, 2, 3, "postfix", "mail err")
	add(j, 1, 6, "app", "user info")
	add(j, 1, 7, "app", "user debug")
	add(j, 10, 5, "sshd", "auth notice")
	add(j, 23, 0, "l7", "local7 emerg")
	add(j, 3, 6, "d", "multi\nline")
	add(j, 1, 6, "app", "END")
	all := waitFile(t, filepath.Join(dir, "all.log"), hasLine("END"))
	want := map[string][]string{
		"mail.log": {"Dec  2 09:05:07 host postfix[42]: mail err"},
		"messages": {"Dec  2 09:05:07 host app[42]: user info", "Dec  2 09:05:07 host sshd[42]: auth notice",
			"Dec  2 09:05:07 host d[42]: multi#012line", "Dec  2 09:05:07 host app[42]: END"},
		"secure": {"Dec  2 09:05:07 host sshd[42]: auth notice"},
		"all.log": {"Dec  2 09:05:07 host postfix[42]: mail err", "Dec  2 09:05:07 host app[42]: user info",
			"Dec  2 09:05:07 host app[42]: user debug", "Dec  2 09:05:07 host sshd[42]: auth notice",
			"Dec  2 09:05:07 host d[42]: multi#012line", "Dec  2 09:05:07 host app[42]: END"},
	}
	for name, lines := range want {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if got := strings.TrimSuffix(string(b), "\n"); got != strings.Join(lines, "\n") {
			t.Errorf("%s:\n%s\nwant:\n%s", name, got, strings.Join(lines, "\n"))
		}
	}
	_ = all
}

// TestResumeAfterCrash has the router stop, entries arrive while it is
// down, and a "crash" leave the first of them in the file past the saved
// state: the next router cuts it and writes every line once.
func TestResumeAfterCrash(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t)
	cfg := conf(t, dir, "*.* DIR/all.log\n")
	opts := Options{Config: cfg, Journal: j, StateFile: filepath.Join(dir, "state")}
	_, stop := runRouter(t, opts)
	add(j, 1, 6, "a", "one")
	path := filepath.Join(dir, "all.log")
	waitFile(t, path, hasLine("one"))
	stop()
	add(j, 1, 6, "a", "two")
	add(j, 1, 6, "a", "three")
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("Dec  2 09:05:07 host a[42]: two\nDec  2 09:05:07 host a[42]: thr") // torn by the crash
	f.Close()
	runRouter(t, opts)
	got := waitFile(t, path, hasLine("three"))
	want := "Dec  2 09:05:07 host a[42]: one\nDec  2 09:05:07 host a[42]: two\nDec  2 09:05:07 host a[42]: three\n"
	if got != want {
		t.Errorf("after resume:\n%s\nwant:\n%s", got, want)
	}
}

// TestFirstRunStartsNow: without a saved state, the journal's history is
// not copied into the files.
func TestFirstRunStartsNow(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t)
	add(j, 1, 6, "a", "old")
	runRouter(t, Options{Config: conf(t, dir, "*.* DIR/all.log\n"), Journal: j, StateFile: filepath.Join(dir, "state")})
	add(j, 1, 6, "a", "new")
	if got := waitFile(t, filepath.Join(dir, "all.log"), hasLine("new")); strings.Contains(got, "old") {
		t.Errorf("history copied:\n%s", got)
	}
}

// TestFirstRunBegin: what is committed after Begin but before Run starts
// reaches the files (a daemon's receivers start before the Router's
// goroutine runs); what came before Begin does not.
func TestFirstRunBegin(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t)
	add(j, 1, 6, "a", "old")
	opts := Options{Config: conf(t, dir, "*.* DIR/all.log\n"), Journal: j, StateFile: filepath.Join(dir, "state"),
		Logger: slog.New(slog.DiscardHandler), Hostname: "host", Location: time.UTC}
	r := New(opts)
	r.Begin(context.Background())
	add(j, 1, 6, "a", "early")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	if got := waitFile(t, filepath.Join(dir, "all.log"), hasLine("early")); strings.Contains(got, "old") {
		t.Errorf("history copied:\n%s", got)
	}
}

// TestRotation renames the file away as logrotate does, and removes it:
// both are noticed and the file reopened without a signal; Reopen does
// the same at once.
func TestRotation(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t)
	reopened := make(chan string, 10)
	r, _ := runRouter(t, Options{Config: conf(t, dir, "*.* DIR/all.log\n"), Journal: j, StateFile: filepath.Join(dir, "state"),
		onReopen: func(p string) { reopened <- p }})
	path := filepath.Join(dir, "all.log")
	awaitReopen := func() {
		t.Helper()
		select {
		case <-reopened:
		case <-time.After(waitTimeout):
			t.Fatal("the file was not reopened")
		}
	}
	add(j, 1, 6, "a", "before")
	waitFile(t, path, hasLine("before"))
	// Removed: tend creates it again.
	os.Remove(path)
	awaitReopen()
	add(j, 1, 6, "a", "after-remove")
	waitFile(t, path, hasLine("after-remove"))
	// Renamed and replaced, as logrotate's "create" does.
	os.Rename(path, path+".1")
	os.WriteFile(path, nil, 0o640)
	awaitReopen()
	add(j, 1, 6, "a", "after-rotate")
	got := waitFile(t, path, hasLine("after-rotate"))
	if old, _ := os.ReadFile(path + ".1"); strings.Contains(string(old), "after-rotate") || strings.Contains(got, "after-remove") {
		t.Errorf("rotated file:\n%s\nnew file:\n%s", old, got)
	}
	// Renamed, nothing replaces it: created after the grace period.
	os.Rename(path, path+".2")
	awaitReopen()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	// Reopen picks up a replacement at once.
	os.Rename(path, path+".3")
	os.WriteFile(path, nil, 0o640)
	if errs := r.Reopen(); len(errs) > 0 {
		t.Fatal(errs)
	}
	add(j, 1, 6, "a", "after-reopen")
	waitFile(t, path, hasLine("after-reopen"))
}

// TestBadDestinations: a symlink and a missing directory are refused
// with one message each; the other files are written.
func TestBadDestinations(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t)
	os.WriteFile(filepath.Join(dir, "target"), nil, 0o644)
	os.Symlink(filepath.Join(dir, "target"), filepath.Join(dir, "link.log"))
	// A FIFO where a file was meant, nobody reading it: opening it for
	// writing must not wait for a reader (and hold every destination).
	if err := unix.Mkfifo(filepath.Join(dir, "fifo.log"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logBuf strings.Builder
	log := slog.New(slog.NewTextHandler(&syncWriter{b: &logBuf}, nil))
	cfg := conf(t, dir, "*.* DIR/link.log\n*.* DIR/missing/x.log\n*.* DIR/fifo.log\n*.* DIR/good.log\n")
	_, stop := runRouter(t, Options{Config: cfg, Journal: j, StateFile: filepath.Join(dir, "state"), Logger: log})
	for i := range 3 {
		add(j, 1, 6, "a", fmt.Sprint("line", i))
	}
	waitFile(t, filepath.Join(dir, "good.log"), hasLine("line2"))
	stop()
	if b, _ := os.ReadFile(filepath.Join(dir, "target")); len(b) > 0 {
		t.Errorf("wrote through the symlink: %q", b)
	}
	out := logBuf.String()
	if strings.Count(out, "is a symlink") != 1 || strings.Count(out, "missing: no such file or directory") != 1 ||
		strings.Count(out, "fifo.log: no such device or address") != 1 {
		t.Errorf("want one message each for the symlink, the missing directory and the FIFO:\n%s", out)
	}
}

// TestWallAndUsers writes to the terminals a utmp file names.
func TestWallAndUsers(t *testing.T) {
	dir := t.TempDir()
	dev := filepath.Join(dir, "dev")
	os.MkdirAll(filepath.Join(dev, "pts"), 0o755)
	for _, tty := range []string{"tty1", "pts/3"} {
		os.WriteFile(filepath.Join(dev, tty), nil, 0o600)
	}
	utmp := make([]byte, 3*utmpSize)
	entry := func(i int, typ int16, user, line string) {
		b := utmp[i*utmpSize:]
		b[0] = byte(typ)
		copy(b[utmpLineOff:], line)
		copy(b[utmpUserOff:], user)
	}
	entry(0, userProcess, "root", "tty1")
	entry(1, userProcess, "alice", "pts/3")
	entry(2, 8, "bob", "tty1") // a dead process: not a session
	os.WriteFile(filepath.Join(dir, "utmp"), utmp, 0o644)
	j := openJournal(t)
	cfg := conf(t, dir, "*.emerg *\nuser.alert alice\n*.* DIR/all.log\n")
	runRouter(t, Options{Config: cfg, Journal: j, StateFile: filepath.Join(dir, "state"), Utmp: filepath.Join(dir, "utmp"), DevDir: dev})
	add(j, 3, 0, "d", "the sky falls")
	add(j, 1, 1, "u", "alice only")
	waitFile(t, filepath.Join(dir, "all.log"), hasLine("alice only"))
	tty1, _ := os.ReadFile(filepath.Join(dev, "tty1"))
	pts, _ := os.ReadFile(filepath.Join(dev, "pts/3"))
	if !strings.Contains(string(tty1), "Broadcast message from syslog@host") || !strings.Contains(string(tty1), "d[42]: the sky falls\r\n") ||
		strings.Contains(string(tty1), "alice only") {
		t.Errorf("tty1 got %q", tty1)
	}
	if !strings.Contains(string(pts), "the sky falls") || !strings.Contains(string(pts), "u[42]: alice only\r\n") {
		t.Errorf("pts/3 got %q", pts)
	}
}

// TestPipe writes to a named pipe with a reader and drops without one.
func TestPipe(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	j := openJournal(t)
	runRouter(t, Options{Config: conf(t, dir, "*.* |DIR/fifo\n*.* DIR/all.log\n"), Journal: j, StateFile: filepath.Join(dir, "state")})
	add(j, 1, 6, "a", "nobody reads this")
	waitFile(t, filepath.Join(dir, "all.log"), hasLine("nobody reads"))
	// Read-write: a reader that sees no EOF while no one writes.
	rd, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	rd.SetReadDeadline(time.Now().Add(waitTimeout))
	add(j, 1, 6, "a", "to the pipe")
	buf := make([]byte, 4096)
	n, err := rd.Read(buf)
	if err != nil || string(buf[:n]) != "Dec  2 09:05:07 host a[42]: to the pipe\n" {
		t.Errorf("pipe read %q, %v", buf[:n], err)
	}
}

// A Router that falls behind its in-memory feed (here: a feed that holds
// one batch) reads what the feed dropped from the journal: every line is
// written once, in order, whichever units the entries came from.
func TestFeedOverflowReadsTheJournal(t *testing.T) {
	dir := t.TempDir()
	j := openJournal(t)
	runRouter(t, Options{Config: conf(t, dir, "*.* -DIR/all.log\n"), Journal: j, StateFile: filepath.Join(dir, "state"), feedLimit: 1})
	const n = 3000
	for i := 0; i < n; i += 3 {
		var es []journal.Entry
		for k := range 3 {
			es = append(es, journal.Entry{Realtime: at, Facility: 16, Priority: 6, Identifier: "seq", PID: 7, UID: -1,
				Unit: fmt.Sprintf("u%d.service", k%2), Stream: journal.StreamSyslog, Message: fmt.Appendf(nil, "n=%d", i+k)})
		}
		if err := j.AppendBatch(es); err != nil {
			t.Fatal(err)
		}
	}
	all := waitFile(t, filepath.Join(dir, "all.log"), hasLine(fmt.Sprintf("n=%d\n", n-1)))
	lines := strings.Split(strings.TrimSuffix(all, "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d", len(lines), n)
	}
	for i, l := range lines {
		if !strings.HasSuffix(l, fmt.Sprintf(" seq[7]: n=%d", i)) {
			t.Fatalf("line %d is %q", i, l)
		}
	}
}

// countingJournal counts the entries the Router read back from the
// journal's files rather than from its in-memory feed, and closes tapped
// once the Router follows the journal's commits.
type countingJournal struct {
	*journal.Journal
	read      atomic.Int64
	tapped    chan struct{}
	tappedOne sync.Once
}

func (c *countingJournal) Tap(fn func(journal.Frames)) func() {
	stop := c.Journal.Tap(fn)
	c.tappedOne.Do(func() { close(c.tapped) })
	return stop
}

func (c *countingJournal) Query(ctx context.Context, q journal.Query, fn func(journal.Entry) error) error {
	return c.Journal.Query(ctx, q, func(e journal.Entry) error {
		c.read.Add(1)
		return fn(e)
	})
}

// A writer that calls WaitFeed before each commit never makes the Router
// read back from the journal, however small its feed: every line comes
// from memory, once and in order.
func TestWaitFeedKeepsTheFeed(t *testing.T) {
	dir := t.TempDir()
	j := &countingJournal{Journal: openJournal(t), tapped: make(chan struct{})}
	r, _ := runRouter(t, Options{Config: conf(t, dir, "*.* -DIR/all.log\n"), Journal: j, StateFile: filepath.Join(dir, "state"), feedLimit: 2048})
	// The state file runRouter waits for is saved before the Router taps
	// the journal: what is committed in between is read back, rightly.
	select {
	case <-j.tapped:
	case <-time.After(waitTimeout):
		t.Fatal("the Router never followed the journal's commits")
	}
	const n = 3000
	for i := 0; i < n; i += 3 {
		r.WaitFeed(waitTimeout)
		var es []journal.Entry
		for k := range 3 {
			es = append(es, journal.Entry{Realtime: at, Facility: 16, Priority: 6, Identifier: "seq", PID: 7, UID: -1,
				Stream: journal.StreamSyslog, Message: fmt.Appendf(nil, "n=%d", i+k)})
		}
		if err := j.AppendBatch(es); err != nil {
			t.Fatal(err)
		}
	}
	all := waitFile(t, filepath.Join(dir, "all.log"), hasLine(fmt.Sprintf("n=%d\n", n-1)))
	if lines := strings.Count(all, "\n"); lines != n {
		t.Fatalf("%d lines, want %d", lines, n)
	}
	if got := j.read.Load(); got != 0 {
		t.Fatalf("%d entries read back from the journal, want 0", got)
	}
}

// A Router that takes nothing (stuck on a slow file) holds a writer back
// once for the limit, then not again until it takes: it must not slow
// down the journal's intake on every commit.
func TestWaitFeedStalled(t *testing.T) {
	fd := newFeed(1000)
	fd.put(journal.Frames{Data: make([]byte, 600)})
	start := time.Now()
	fd.waitRoom(50 * time.Millisecond)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("returned after %v with the feed more than half full", d)
	}
	done := make(chan struct{})
	go func() { fd.waitRoom(time.Hour); close(done) }()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("a second wait with the Router still stalled did not return at once")
	}
	// Once it takes again, writers wait for it again.
	fd.takeNow()
	fd.put(journal.Frames{Data: make([]byte, 600)})
	start = time.Now()
	fd.waitRoom(50 * time.Millisecond)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("returned after %v: the Router took, so it is no longer stalled", d)
	}
}

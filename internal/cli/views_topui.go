package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/inspect"
)

// topUI is the interactive top: raw terminal, one frame per delay, keys
// change the view or act on the selected row. golang.org/x/term gives raw
// mode and the window size; drawing is a few ANSI sequences, so no TUI
// library is needed (see docs/decisions.md).
type topUI struct {
	out    *os.File
	top    *inspect.Top
	view   inspect.TopView
	ctl    unitControl
	frame  *inspect.TopFrame
	rows   []inspect.TopRow
	sel    int
	status string
	help   bool
}

const topKeysHelp = "q quit  P/M/N/T sort by cpu/mem/pid/time  </> sort column  R reverse  V tree  G units  c commands  " +
	"↑↓ (j/K) select  k kill (SIGTERM)  s stop unit  r restart unit  h help"

func runTopInteractive(ctx context.Context, in, out *os.File, top *inspect.Top, o topFlags, ctl unitControl) error {
	old, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return fmt.Errorf("top: %w", err)
	}
	defer term.Restore(int(in.Fd()), old)
	fmt.Fprint(out, "\x1b[?1049h\x1b[?25l") // alternate screen, hide cursor
	defer fmt.Fprint(out, "\x1b[?25h\x1b[?1049l")

	keys, stop, err := readKeys(in)
	if err != nil {
		return err
	}
	defer stop()

	// Redraw at once when the window changes size.
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	defer signal.Stop(winch)

	ui := &topUI{out: out, top: top, view: o.view, ctl: ctl}
	delay := time.Duration(o.delay * float64(time.Second))
	tick := time.NewTimer(0)
	defer tick.Stop()
	for n := 0; ; {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if o.iter > 0 && n >= o.iter {
				return nil
			}
			n++
			if err := ui.refresh(ctx); err != nil {
				return err
			}
			tick.Reset(delay)
		case <-winch:
			ui.draw()
		case k, ok := <-keys:
			if !ok || k == "q" || k == "\x03" {
				return nil
			}
			ui.key(ctx, k)
			ui.draw()
		}
	}
}

// readKeys reads key presses from in on a goroutine. The returned stop
// function ends it and waits for it: the goroutine waits in poll on both
// in and a pipe, so it never stays blocked in read.
func readKeys(in *os.File) (<-chan string, func(), error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, fmt.Errorf("top: %w", err)
	}
	keys := make(chan string, 8)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		defer close(keys)
		buf := make([]byte, 64)
		fds := []unix.PollFd{{Fd: int32(in.Fd()), Events: unix.POLLIN}, {Fd: int32(p[0]), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); err != nil && !errors.Is(err, unix.EINTR) {
				return
			}
			if fds[1].Revents != 0 {
				return
			}
			if fds[0].Revents == 0 {
				continue
			}
			n, err := unix.Read(int(in.Fd()), buf)
			if err != nil || n == 0 {
				return // end of input: the closed channel tells the loop
			}
			select {
			case keys <- string(buf[:n]):
			case <-quit:
				return
			}
		}
	}()
	stop := func() {
		close(quit)
		unix.Write(p[1], []byte{0})
		<-done
		unix.Close(p[0])
		unix.Close(p[1])
	}
	return keys, stop, nil
}

func (ui *topUI) refresh(ctx context.Context) error {
	f, err := ui.top.Sample(ctx)
	if err != nil {
		return err
	}
	ui.frame = f
	ui.draw()
	return nil
}

// key applies one key press.
func (ui *topUI) key(ctx context.Context, k string) {
	v := &ui.view
	ui.status = ""
	switch k {
	case "P":
		v.Sort = inspect.SortCPU
	case "M":
		v.Sort = inspect.SortMem
	case "N":
		v.Sort = inspect.SortPID
	case "T":
		v.Sort = inspect.SortTime
	case "<":
		if v.Sort > 0 {
			v.Sort--
		}
	case ">":
		if v.Sort < inspect.SortCommand {
			v.Sort++
		}
	case "R":
		v.Reverse = !v.Reverse
	case "V":
		v.Tree = !v.Tree
	case "G":
		v.ByUnit = !v.ByUnit
		ui.sel = 0
	case "c":
		v.Args = !v.Args
		if v.Args {
			ui.top.Need |= inspect.NeedArgs
		}
	case "h", "?":
		ui.help = !ui.help
	case "j", "\x1b[B":
		ui.sel++
	case "k":
		ui.act(ctx, "kill")
	case "K", "\x1b[A":
		ui.sel = max(ui.sel-1, 0)
	case "s":
		ui.act(ctx, "stop")
	case "r":
		ui.act(ctx, "restart")
	}
}

// act runs an action on the selected row: kill signals the process (or,
// in unit mode, all of the unit's processes through the daemon); stop and
// restart are unit jobs.
func (ui *topUI) act(ctx context.Context, what string) {
	if ui.sel >= len(ui.rows) {
		return
	}
	row := ui.rows[ui.sel]
	unit := row.Unit
	if what == "kill" && !ui.view.ByUnit {
		if err := unix.Kill(row.PID, unix.SIGTERM); err != nil {
			ui.status = fmt.Sprintf("kill %d: %v", row.PID, err)
		} else {
			ui.status = fmt.Sprintf("sent SIGTERM to %d", row.PID)
		}
		return
	}
	if unit == "" || unit == "-" || unit == inspect.SelfLabel {
		ui.status = "the selected row belongs to no unit"
		return
	}
	if ui.ctl == nil {
		ui.status = "no tend daemon to " + what + " " + unit
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var err error
	names, opts := []string{unit}, api.JobOptions{NoWait: true}
	switch what {
	case "kill":
		err = ui.ctl.Kill(ctx, names, "all", int(unix.SIGTERM))
	case "stop":
		_, err = ui.ctl.Stop(ctx, names, opts)
	case "restart":
		_, err = ui.ctl.Restart(ctx, names, opts)
	}
	if err != nil {
		ui.status = fmt.Sprintf("%s %s: %v", what, unit, err)
	} else {
		ui.status = fmt.Sprintf("%s %s: queued", what, unit)
	}
}

// draw repaints the screen from the last frame.
func (ui *topUI) draw() {
	if ui.frame == nil {
		return
	}
	w, h, err := term.GetSize(int(ui.out.Fd()))
	if err != nil {
		w, h = 80, 24
	}
	var b strings.Builder
	b.WriteString("\x1b[H")
	var sum strings.Builder
	ui.frame.WriteSummary(&sum)
	lines := strings.Split(strings.TrimRight(sum.String(), "\n"), "\n")
	status := ui.status
	if ui.help || status == "" {
		status = "sort " + ui.view.Sort.String() + "   h for keys"
		if ui.help {
			status = topKeysHelp
		}
	}
	lines = append(lines, status)
	ui.rows = ui.frame.Arrange(ui.view)
	ui.sel = min(ui.sel, max(len(ui.rows)-1, 0))
	for _, l := range lines {
		b.WriteString(clip(l, w) + "\x1b[K\r\n")
	}
	b.WriteString("\x1b[7m" + clip(inspect.TopHeader(ui.view), w) + "\x1b[K\x1b[0m\r\n")
	room := h - len(lines) - 1
	first := max(0, ui.sel-room+1)
	for i := first; i < len(ui.rows) && i < first+room; i++ {
		line := clip(inspect.FormatRow(ui.rows[i], ui.view), w)
		if i == ui.sel {
			line = "\x1b[1;7m" + line + "\x1b[K\x1b[0m"
		}
		b.WriteString(line + "\x1b[K")
		if i < first+room-1 {
			b.WriteString("\r\n")
		}
	}
	b.WriteString("\x1b[J")
	ui.out.WriteString(b.String())
}

// clip cuts s to w columns (runes; the views print no wide characters).
func clip(s string, w int) string {
	r := []rune(s)
	if len(r) > w {
		return string(r[:w])
	}
	return s
}

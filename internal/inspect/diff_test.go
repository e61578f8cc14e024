package inspect

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/creack/pty"

	"github.com/tendproject/tend/internal/procfs"
)

func liveCollector() *Collector { return NewCollector(procfs.New("/proc"), nil) }

func commOf(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// zombieChild returns a zombie child of pid, or 0.
func zombieChild(pid int) int {
	r := procfs.New("/proc").NewReader()
	pids, _ := procfs.New("/proc").PIDs()
	for _, p := range pids {
		if st, err := r.Stat(p); err == nil && st.PPID == pid && st.State == 'Z' {
			return p
		}
	}
	return 0
}

// liveProcesses starts processes of the kinds ps distinguishes: plain, niced,
// with a zombie child, on a terminal, with odd arguments. It returns their
// pids plus kthreadd's.
func liveProcesses(t *testing.T) []int {
	plain := startProc(t, "sleep", "60")
	niced := startProc(t, "nice", "-n", "7", "sleep", "61")
	reaperless := startProc(t, "/bin/sh", "-c", "sleep 0 & exec sleep 62")
	tty := exec.Command("sleep", "63")
	ptmx, err := pty.Start(tty)
	if err != nil {
		t.Fatalf("pty: %v", err)
	}
	t.Cleanup(func() {
		tty.Process.Kill()
		tty.Wait()
		ptmx.Close()
	})
	// A shell waiting for its child is a steady S, unlike a Go program
	// whose runtime threads may be running when ps looks.
	odd := startProc(t, "/bin/sh", "-c", "sleep 64; :", "arg with space", "(paren)", "tab\there")
	waitFor(t, "nice to exec sleep", func() bool { return commOf(niced.Process.Pid) == "sleep" })
	var zombie int
	waitFor(t, "a zombie", func() bool {
		zombie = zombieChild(reaperless.Process.Pid)
		return zombie != 0 && commOf(reaperless.Process.Pid) == "sleep"
	})
	pids := []int{plain.Process.Pid, niced.Process.Pid, reaperless.Process.Pid, tty.Process.Pid, odd.Process.Pid}
	// Until a process sleeps it may still be loading (state R, growing
	// memory); compare only settled processes.
	r := procfs.New("/proc").NewReader()
	waitFor(t, "the processes to settle", func() bool {
		for _, pid := range pids {
			if st, err := r.Stat(pid); err != nil || st.State != 'S' {
				return false
			}
		}
		return true
	})
	return append(pids, 2, zombie)
}

// splitRows splits output lines into n-1 fields plus the rest (args).
func splitRows(out string, n int) [][]string {
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) < n {
			rows = append(rows, f)
			continue
		}
		rows = append(rows, append(f[:n-1:n-1], strings.Join(f[n-1:], " ")))
	}
	return rows
}

func TestPsAgainstProcps(t *testing.T) {
	need(t, "ps")
	pids := liveProcesses(t)
	cols := "pid,ppid,pgid,sid,stat,tty,user,uid,ruser,ni,pri,nlwp,start,stime,time,vsz,rss,args"
	tab, err := Ps(context.Background(), liveCollector(), PsOptions{PIDs: pids, Columns: []string{cols}})
	if err != nil {
		t.Fatal(err)
	}
	var ours bytes.Buffer
	tab.WriteText(&ours, false)
	var list []string
	for _, p := range pids {
		list = append(list, strconv.Itoa(p))
	}
	// procps's -o with "=" after each name drops the header.
	theirs, err := exec.Command("ps", "-o", strings.ReplaceAll(cols, ",", "=,")+"=", "-p", strings.Join(list, ",")).Output()
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	n := strings.Count(cols, ",") + 1
	got, want := splitRows(ours.String(), n), splitRows(string(theirs), n)
	if len(got) != len(want) {
		t.Fatalf("tend ps gave %d rows, procps %d:\n%s\nprocps:\n%s", len(got), len(want), ours.String(), theirs)
	}
	names := strings.Split(cols, ",")
	for i := range want {
		for j := range want[i] {
			if j >= len(got[i]) || got[i][j] != want[i][j] {
				t.Errorf("pid %s column %s: tend %q; procps %q", want[i][0], names[j], at(got[i], j), want[i][j])
			}
		}
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "<missing>"
}

func TestTreeAgainstPstree(t *testing.T) {
	need(t, "pstree")
	sh := startProc(t, "/bin/sh", "-c", "sleep 70 & sleep 70 & (sleep 71; :) & wait")
	pid := sh.Process.Pid
	// The shell's children exec sleep; wait until the subtree is complete.
	waitFor(t, "the shell's children", func() bool {
		var b bytes.Buffer
		roots, err := Tree(context.Background(), liveCollector(), TreeOptions{PID: pid, ASCII: true, NoUnits: true})
		if err != nil {
			return false
		}
		RenderTree(&b, roots, TreeOptions{ASCII: true})
		return strings.Count(b.String(), "sleep") == 2 && strings.Contains(b.String(), "2*[sleep]")
	})
	for _, tt := range []struct {
		opts TreeOptions
		args []string
	}{
		{TreeOptions{ASCII: true}, []string{"-A", "-l"}},
		{TreeOptions{ASCII: true, ShowPIDs: true}, []string{"-A", "-l", "-p"}},
		{TreeOptions{ShowPIDs: true}, []string{"-U", "-l", "-p"}},
		{TreeOptions{ASCII: true, ShowArgs: true}, []string{"-A", "-l", "-a"}},
		{TreeOptions{ASCII: true, ByPID: true, ShowPIDs: true}, []string{"-A", "-l", "-n", "-p"}},
	} {
		tt.opts.PID, tt.opts.NoUnits = pid, true
		roots, err := Tree(context.Background(), liveCollector(), tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		var ours bytes.Buffer
		RenderTree(&ours, roots, tt.opts)
		theirs, err := exec.Command("pstree", append(tt.args, strconv.Itoa(pid))...).Output()
		if err != nil {
			t.Fatalf("pstree: %v", err)
		}
		if ours.String() != string(theirs) {
			t.Errorf("pstree %v:\n%s\ntend tree:\n%s", tt.args, theirs, ours.String())
		}
	}
}

// lsofFiles runs lsof -F on pid: fd → "access type name".
func lsofFiles(t *testing.T, pid int) map[string]string {
	out, err := exec.Command("lsof", "-n", "-P", "-w", "-p", strconv.Itoa(pid), "-F", "fatn").Output()
	if err != nil {
		t.Fatalf("lsof: %v", err)
	}
	files := map[string]string{}
	var fd, acc, typ string
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" {
			continue
		}
		switch line[0] {
		case 'f':
			fd, acc, typ = line[1:], "", ""
		case 'a':
			acc = strings.TrimSpace(line[1:])
		case 't':
			typ = line[1:]
		case 'n':
			files[fd] = acc + " " + typ + " " + line[1:]
		}
	}
	return files
}

func TestFdsAgainstLsof(t *testing.T) {
	need(t, "lsof")
	file := t.TempDir() + "/data"
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHelper(t, "fds", []string{"INSPECT_FILE=" + file})
	fds := h.fields()
	l, err := FDs(context.Background(), liveCollector(), h.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	ours := map[string]OpenFile{}
	for _, f := range l.Files {
		ours[f.FD] = f
	}
	theirs := lsofFiles(t, h.cmd.Process.Pid)
	names := []string{"file", "write", "pipe_r", "pipe_w", "listen", "client", "server"}
	if fds["listen6"] >= 0 {
		names = append(names, "listen6") // TCP over IPv6 comes from the same dump as IPv4
	}
	for _, name := range names {
		fd := strconv.Itoa(fds[name])
		f := ours[fd]
		name := f.Target
		switch f.Type {
		case "IPv4", "IPv6":
			name = f.Local
			if f.Remote != "" {
				name += "->" + f.Remote
			}
		case "FIFO":
			name = "pipe"
		}
		if got := f.Mode + " " + f.Type + " " + name; got != theirs[fd] {
			t.Errorf("fd %s (%s): tend %q; lsof %q", fd, name, got, theirs[fd])
		}
	}
	// The pipe's ends are both in the helper; its stdin's other end is us.
	if p := ours[strconv.Itoa(fds["pipe_r"])].Peer; p == nil || p.PID != h.cmd.Process.Pid || p.FD != fds["pipe_w"] {
		t.Errorf("pipe read end peer = %+v; want the helper's fd %d", p, fds["pipe_w"])
	}
	if p := ours["0"].Peer; p == nil || p.PID != os.Getpid() {
		t.Errorf("stdin peer = %+v; want this test process %d (row %+v)", p, os.Getpid(), ours["0"])
	}
	if p := ours[strconv.Itoa(fds["pair0"])].Peer; p == nil || p.FD != fds["pair1"] {
		t.Errorf("socketpair peer = %+v; want fd %d", p, fds["pair1"])
	}
	if p := ours[strconv.Itoa(fds["client"])].Peer; p == nil || p.FD != fds["server"] {
		t.Errorf("loopback TCP peer = %+v; want fd %d", p, fds["server"])
	}
}

func TestSocketsAgainstSS(t *testing.T) {
	need(t, "ss")
	h := startHelper(t, "fds", []string{"INSPECT_FILE=/etc/hostname"})
	l, err := FDs(context.Background(), liveCollector(), h.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	socks, err := ReadSockets()
	if err != nil {
		t.Fatal(err)
	}
	pair := strconv.Itoa(h.fields()["pair0"])
	var ino uint64
	for _, f := range l.Files {
		if f.FD == pair {
			ino = f.Inode
		}
	}
	out, err := exec.Command("ss", "-x", "-a", "-n").Output()
	if err != nil {
		t.Fatalf("ss: %v", err)
	}
	found := false
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 8 && f[5] == strconv.FormatUint(ino, 10) {
			found = true
			if want := f[7]; strconv.FormatUint(socks.Unix[ino].Peer, 10) != want {
				t.Errorf("peer of unix socket %d: tend %d; ss %s", ino, socks.Unix[ino].Peer, want)
			}
		}
	}
	if !found {
		t.Errorf("ss does not list socket %d:\n%s", ino, out)
	}
}

func TestInspectLive(t *testing.T) {
	h := startHelper(t, "wait", nil)
	pid := h.cmd.Process.Pid
	d, err := Inspect(context.Background(), liveCollector(), pid)
	if err != nil {
		t.Fatal(err)
	}
	if d.Process.PPID != os.Getpid() || d.Exe == "" || d.FDCount["pipe"] < 2 || len(d.Limits) == 0 || len(d.Namespaces) == 0 {
		t.Errorf("Inspect = %+v", d)
	}
	var b bytes.Buffer
	WriteDetail(&b, d, d.Process.Start)
	for _, want := range []string{"Process:     " + strconv.Itoa(pid), "ppid " + strconv.Itoa(os.Getpid()), "Open files:", "Limit:"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("inspect output lacks %q:\n%s", want, b.String())
		}
	}
	h.stdin.Close()
	h.cmd.Wait()
	if _, err := Inspect(context.Background(), liveCollector(), pid); err == nil {
		t.Error("Inspect of an exited process succeeded; want an error")
	}
	if _, err := FDs(context.Background(), liveCollector(), pid); err == nil {
		t.Error("FDs of an exited process succeeded; want an error")
	}
}

// TestUnreadable runs the views as an unprivileged user on a process of
// root's: what can be read is shown, the rest is named as unreadable, and
// nothing fails.
func TestUnreadable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a helper as another user")
	}
	target := startProc(t, "sleep", "65")
	cmd := exec.Command(nobodyBinary(t), "-test.run=^$")
	cmd.Env = append(os.Environ(), "INSPECT_HELPER=unprivileged", "INSPECT_TARGET="+strconv.Itoa(target.Process.Pid))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	want := "unreadable=cwd,exe,fd,namespaces,syscall fds=permission denied: open files unreadable comm=sleep\n"
	if string(out) != want {
		t.Errorf("as nobody: %q; want %q", out, want)
	}
}

// TestEffectiveUserOfNonDumpable checks the cheap source of the USER
// column, the owner of /proc/PID, against procps on a process whose
// other /proc files the kernel gives to root: a non-dumpable one running
// as nobody.
func TestEffectiveUserOfNonDumpable(t *testing.T) {
	need(t, "ps")
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a helper as another user")
	}
	cmd := exec.Command(nobodyBinary(t), "-test.run=^$")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	h := startHelperCmd(t, cmd, "nondumpable", nil)
	pid := h.cmd.Process.Pid
	var st syscall.Stat_t
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/status", pid), &st); err != nil || st.Uid != 0 {
		t.Fatalf("status of the non-dumpable helper is owned by uid %d (%v); want root", st.Uid, err)
	}
	tab, err := Ps(context.Background(), liveCollector(), PsOptions{PIDs: []int{pid}, Columns: []string{"pid,user,uid"}})
	if err != nil {
		t.Fatal(err)
	}
	var ours bytes.Buffer
	tab.WriteText(&ours, false)
	theirs, err := exec.Command("ps", "-o", "pid=,user=,uid=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	if got, want := strings.Fields(ours.String()), strings.Fields(string(theirs)); strings.Join(got, " ") != strings.Join(want, " ") || want[2] != "65534" {
		t.Errorf("tend ps: %q; procps: %q (want uid 65534)", got, want)
	}
}

// TestTopKeepsStatFiles: from its second frame on, top keeps each
// process's stat file open between frames, drops the file of a process
// that exited, and closes all at the end.
func TestTopKeepsStatFiles(t *testing.T) {
	sleeper := startProc(t, "sleep", "66")
	pid := sleeper.Process.Pid
	statPath := fmt.Sprintf("/proc/%d/stat", pid)
	kept := func() (ours, all int) {
		ents, _ := os.ReadDir("/proc/self/fd")
		for _, e := range ents {
			link, _ := os.Readlink("/proc/self/fd/" + e.Name())
			if strings.HasPrefix(link, "/proc/") && strings.HasSuffix(link, "/stat") {
				all++
				if link == statPath {
					ours++
				}
			}
		}
		return ours, all
	}
	top := NewTop(liveCollector(), "")
	defer top.Close()
	inFrame := func(f *TopFrame) bool {
		return slices.ContainsFunc(f.Rows, func(r TopRow) bool { return r.PID == pid })
	}
	f, err := top.Sample(context.Background())
	if err != nil || !inFrame(f) {
		t.Fatalf("first frame lacks pid %d (%v)", pid, err)
	}
	if _, all := kept(); all != 0 {
		t.Errorf("%d stat files kept after the first frame; want none until a second", all)
	}
	if f, err = top.Sample(context.Background()); err != nil || !inFrame(f) {
		t.Fatalf("second frame lacks pid %d (%v)", pid, err)
	}
	if ours, all := kept(); ours != 1 || all < len(f.Rows)/2 {
		t.Errorf("after a frame of %d processes: %d stat files kept, %d of pid %d; want about one each", len(f.Rows), all, ours, pid)
	}
	sleeper.Process.Kill()
	sleeper.Wait()
	if f, err = top.Sample(context.Background()); err != nil || inFrame(f) {
		t.Fatalf("the frame after pid %d exited still shows it (%v)", pid, err)
	}
	if ours, _ := kept(); ours != 0 {
		t.Errorf("the stat file of exited pid %d is still open", pid)
	}
	top.Close()
	if _, all := kept(); all != 0 {
		t.Errorf("%d stat files open after Close", all)
	}
}

// TestPipePeerIsOtherEnd: the peer of a pipe's write end is its reader,
// even when the writer's parent (this test, scanned first) still holds a
// copy of the write end; and in a shell pipeline each side names the
// other, as lsof's +E endpoints do.
func TestPipePeerIsOtherEnd(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	writer := exec.Command("sleep", "67")
	writer.Stdout = pw
	reader := exec.Command("cat")
	reader.Stdin = pr
	for _, c := range []*exec.Cmd{writer, reader} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c.Process.Kill()
			c.Wait()
		})
	}
	pr.Close()
	l, err := FDs(context.Background(), liveCollector(), writer.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if p := fileByFD(l, "1").Peer; p == nil || p.PID != reader.Process.Pid || p.FD != 0 {
		t.Errorf("peer of the writer's stdout = %v; want cat pid %d fd 0 (the reader, not this test's copy of the write end)", p, reader.Process.Pid)
	}

	sh := startProc(t, "/bin/sh", "-c", "sleep 68 | cat")
	var sleepPID, catPID int
	waitFor(t, "the pipeline", func() bool {
		sleepPID, catPID = childNamed(sh.Process.Pid, "sleep"), childNamed(sh.Process.Pid, "cat")
		return sleepPID != 0 && catPID != 0
	})
	for _, tt := range []struct{ pid, fd, peer, peerFD int }{{sleepPID, 1, catPID, 0}, {catPID, 0, sleepPID, 1}} {
		l, err := FDs(context.Background(), liveCollector(), tt.pid)
		if err != nil {
			t.Fatal(err)
		}
		if p := fileByFD(l, strconv.Itoa(tt.fd)).Peer; p == nil || p.PID != tt.peer || p.FD != tt.peerFD {
			t.Errorf("pid %d fd %d: peer %v; want pid %d fd %d", tt.pid, tt.fd, p, tt.peer, tt.peerFD)
		}
	}
	if _, err := exec.LookPath("lsof"); err == nil {
		out, _ := exec.Command("lsof", "-n", "-P", "-w", "+E", "-p", strconv.Itoa(sleepPID)).Output()
		if !strings.Contains(string(out), strconv.Itoa(catPID)+",cat,0r") {
			t.Errorf("lsof +E does not name cat %d fd 0r as sleep's pipe endpoint:\n%s", catPID, out)
		}
	}
}

func fileByFD(l *FDList, fd string) OpenFile {
	for _, f := range l.Files {
		if f.FD == fd {
			return f
		}
	}
	return OpenFile{}
}

// childNamed returns the child of ppid whose comm is name (after its
// exec), or 0.
func childNamed(ppid int, name string) int {
	r := procfs.New("/proc").NewReader()
	pids, _ := procfs.New("/proc").PIDs()
	for _, p := range pids {
		if st, err := r.Stat(p); err == nil && st.PPID == ppid && st.Comm == name {
			return p
		}
	}
	return 0
}

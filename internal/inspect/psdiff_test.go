package inspect

import (
	"bytes"
	"context"
	"errors"
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

// psFixture is a set of processes of the kinds ps distinguishes, all
// stopped (SIGSTOP) so that nothing in their rows changes while procps and
// tend read them: plain, niced, session leader, on a terminal, owned by
// nobody, multi-threaded, a shell with children (for trees), a zombie, and
// command lines with a tab, a newline, UTF-8 and a byte that is not.
type psFixture struct {
	pids  []int
	named map[string]int
	tty   string // the terminal of the "tty" process, e.g. "pts/3"
}

func (f *psFixture) list() string {
	s := make([]string, len(f.pids))
	for i, p := range f.pids {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ",")
}

func startPsFixture(t *testing.T) *psFixture {
	t.Helper()
	f := &psFixture{named: map[string]int{}}
	add := func(name string, pid int) {
		f.named[name] = pid
		f.pids = append(f.pids, pid)
	}
	add("plain", startProc(t, "sleep", "1000").Process.Pid)
	add("niced", startProc(t, "nice", "-n", "7", "sleep", "1001").Process.Pid)
	leader := exec.Command("sleep", "1002")
	leader.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	startCmd(t, leader)
	add("leader", leader.Process.Pid)
	term := exec.Command("sleep", "1003")
	ptmx, err := pty.Start(term)
	if err != nil {
		t.Fatalf("pty: %v", err)
	}
	t.Cleanup(func() {
		term.Process.Kill()
		term.Wait()
		ptmx.Close()
	})
	add("tty", term.Process.Pid)
	if os.Geteuid() == 0 {
		nobody := exec.Command("sleep", "1004")
		nobody.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		startCmd(t, nobody)
		add("nobody", nobody.Process.Pid)
	}
	h := startHelper(t, "wait", nil, "threaded")
	t.Cleanup(func() { h.cmd.Process.Kill() }) // a stopped helper does not read its stdin's end
	add("threads", h.cmd.Process.Pid)
	tree := startProc(t, "/bin/sh", "-c", "sleep 1005 & sleep 1006 & wait")
	add("tree", tree.Process.Pid)
	zparent := startProc(t, "/bin/sh", "-c", "sleep 0 & exec sleep 1007")
	add("zparent", zparent.Process.Pid)
	add("odd", startProc(t, "/bin/sh", "-c", "sleep 1008; :", "tab\there", "new\nline", "h\u00e9llo w\u00f6rld", "bad\xffbyte").Process.Pid)

	r := procfs.New("/proc").NewReader()
	waitFor(t, "the fixture to exec and fork", func() bool {
		return commOf(f.named["niced"]) == "sleep" && commOf(f.named["zparent"]) == "sleep" &&
			len(childrenOf(f.named["tree"])) == 2 && zombieChild(f.named["zparent"]) != 0
	})
	add("zombie", zombieChild(f.named["zparent"]))
	kids := childrenOf(f.named["tree"])
	add("child1", kids[0])
	add("child2", kids[1])
	waitFor(t, "the fixture to settle", func() bool {
		for _, pid := range f.pids {
			st, err := r.Stat(pid)
			if err != nil || st.State != 'S' && st.State != 'Z' {
				return false
			}
		}
		return commOf(kids[0]) == "sleep" && commOf(kids[1]) == "sleep"
	})
	for _, pid := range f.pids {
		syscall.Kill(pid, syscall.SIGSTOP)
	}
	waitFor(t, "the fixture to stop", func() bool {
		for _, pid := range f.pids {
			if st, err := r.Stat(pid); err != nil || st.State != 'T' && st.State != 'Z' {
				return false
			}
		}
		return true
	})
	st, _ := r.Stat(f.named["tty"])
	f.tty = procfs.New("/proc").NewReader().TTYNames().Name(st.TTY)
	return f
}

func startCmd(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
}

func childrenOf(ppid int) []int {
	r := procfs.New("/proc").NewReader()
	pids, _ := procfs.New("/proc").PIDs()
	var out []int
	for _, p := range pids {
		if st, err := r.Stat(p); err == nil && st.PPID == ppid && st.State != 'Z' {
			out = append(out, p)
		}
	}
	return out
}

// tendPs runs tend ps's parsing and printing on args as the command does,
// with its output not a terminal.
func tendPs(args []string, env map[string]string) (out string, code int, errMsg string) {
	getenv := func(k string) string { return env[k] }
	c := liveCollector()
	c.ASCII = !UTF8Locale(getenv)
	a, err := ParsePsArgs(args, PsArgsEnv{Screen: Unlimited, Getenv: getenv, Lookup: c.Users().Lookup, SelfTTY: SelfTTY(c)})
	var ue *PsUsageError
	if errors.As(err, &ue) {
		return "", 1, "error: " + ue.Msg
	}
	if err != nil {
		return "", 1, err.Error()
	}
	t, err := Ps(context.Background(), c, a.Options)
	if err != nil {
		return "", 1, err.Error()
	}
	var b bytes.Buffer
	t.WriteText(&b, !a.Options.NoHeader)
	if len(t.Rows) == 0 {
		code = 1
	}
	return b.String(), code, ""
}

func procps(t *testing.T, args []string, env map[string]string) (string, int, string) {
	cmd := exec.Command("ps", args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "TZ=" + os.Getenv("TZ")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ps %v: %v", args, err)
	}
	first, _, _ := strings.Cut(errb.String(), "\n")
	return out.String(), code, first
}

// fixtureRows keeps the header and the lines whose field pidField is one
// of the fixture's pids (every line when pidField is negative).
func fixtureRows(out string, pidField int, f *psFixture) []string {
	var keep []string
	for i, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if pidField < 0 {
			keep = append(keep, l)
			continue
		}
		fs := strings.Fields(l)
		if len(fs) <= pidField {
			continue
		}
		pid, err := strconv.Atoi(fs[pidField])
		if err != nil && i == 0 || err == nil && slices.Contains(f.pids, pid) {
			keep = append(keep, l)
		}
	}
	return keep
}

// TestPsDifferential runs procps ps and tend ps with each supported option
// set on the same stopped processes and compares their lines exactly:
// every column's text, width and alignment. A case is repeated when
// procps's own output changed around tend's run (a clock second ticked).
func TestPsDifferential(t *testing.T) {
	need(t, "ps")
	f := startPsFixture(t)
	list := f.list()
	utf := map[string]string{"LANG": "C.UTF-8"}
	tests := []struct {
		args     []string
		pidField int // which field holds the pid; -1: compare every line
		env      map[string]string
	}{
		// UNIX
		{[]string{"-ef"}, 1, nil},
		{[]string{"-eF"}, 1, nil},
		{[]string{"-el"}, 3, nil},
		{[]string{"-ely"}, 2, nil},
		{[]string{"-elf"}, 3, nil},
		{[]string{"-ej"}, 0, nil},
		{[]string{"-ejH"}, 0, nil},
		{[]string{"-efj"}, 1, nil},
		{[]string{"-eLf"}, 1, nil},
		{[]string{"-eL"}, 0, nil},
		{[]string{"-eLF"}, 1, nil},
		{[]string{"-e", "-o", "pid,tid,lwp,nlwp,comm", "-L"}, 0, nil},
		{[]string{"-f", "-p", list}, -1, nil},
		{[]string{"-p", list, "-o", "pid,tname,time,ucmd"}, -1, nil},
		{[]string{"-H", "-p", list}, -1, nil},
		{[]string{"-f", "--forest", "-p", list}, -1, nil},
		{[]string{"-j", "--forest", "-p", list}, -1, nil},
		{[]string{"-f", "--ppid", strconv.Itoa(f.named["tree"])}, -1, nil},
		{[]string{"-f", "-C", "sleep"}, 1, nil},
		{[]string{"-f", "-t", f.tty}, -1, nil},
		{[]string{"-f", "-U", "root", "-u", "nobody"}, 1, nil},
		{[]string{"-N", "-f", "-u", "nobody"}, 1, nil},
		{[]string{"-d", "-f"}, 1, nil},
		{[]string{"-a", "-f", "-t", f.tty}, 1, nil},
		// BSD
		{[]string{"aux"}, 1, nil},
		{[]string{"ax"}, 0, nil},
		{[]string{"axj"}, 1, nil},
		{[]string{"axl"}, 2, nil},
		{[]string{"axu"}, 1, nil},
		{[]string{"-aux"}, 1, nil},
		{[]string{"jf", "p", list}, -1, nil},
		{[]string{"f", "p", list}, -1, nil},
		{[]string{"uf", "p", list}, -1, nil},
		{[]string{"x"}, 0, nil},
		{[]string{"u", "p" + list}, -1, nil},
		{[]string{"j", "p", list}, -1, nil},
		// a list alone selects: not our other processes on a terminal
		{[]string{"u", "p", strconv.Itoa(f.named["plain"])}, -1, nil},
		// -o
		{[]string{"-e", "-o", "pid,lstart,psr,tid,exe,user:20,comm"}, 0, nil},
		{[]string{"-e", "-o", "pid,f,s,stat,pri,opri,priority,ni,nice,addr,sz,wchan,rss,vsz,pcpu,pmem,c,cls,class,policy"}, 0, nil},
		{[]string{"-e", "-o", "pid,time,bsdtime,cputime,start,stime,start_time,bsdstart"}, 0, nil},
		{[]string{"-e", "-o", "pid,uid,euid,ruid,user,ruser,euser,uname,uid_hack,tty,tt,tname"}, 0, nil},
		{[]string{"-e", "-o", "pid,pgid,pgrp,sid,sess,tpgid,ppid,nlwp,thcount,fname,ucmd,ucomm,cmd"}, 0, nil},
		{[]string{"-e", "-o", "pid=PROCESS,args"}, 0, nil},
		{[]string{"-e", "-o", "pid=,args="}, 0, nil},
		{[]string{"-e", "-o", "pid=", "-o", "comm"}, 0, nil},
		{[]string{"-p", list, "-o", "pid,args", "--sort", "-pid"}, -1, nil},
		{[]string{"-p", list, "-o", "pid,comm,args"}, -1, utf},
		{[]string{"-p", list, "-o", "pid,comm,args"}, -1, map[string]string{"LC_ALL": "C"}},
		{[]string{"-p", list, "--no-headers", "-o", "pid,args"}, -1, nil},
		// widths
		{[]string{"-f", "-p", list}, -1, map[string]string{"COLUMNS": "60"}},
		{[]string{"-f", "-p", list}, -1, map[string]string{"COLUMNS": "30"}},
		{[]string{"-fw", "-p", list}, -1, map[string]string{"COLUMNS": "60"}},
		{[]string{"-f", "-ww", "-p", list}, -1, map[string]string{"COLUMNS": "60"}},
		{[]string{"auxww", "p", list}, 1, map[string]string{"COLUMNS": "80"}},
		{[]string{"uww", "p", list}, -1, map[string]string{"COLUMNS": "80"}},
		{[]string{"-o", "pid,args,user", "-p", list}, -1, map[string]string{"COLUMNS": "40"}},
		{[]string{"--cols", "50", "-f", "-p", list}, -1, nil},
	}
	for _, tt := range tests {
		name := strings.Join(tt.args, " ")
		if tt.env != nil {
			name = fmt.Sprint(tt.env) + " " + name
		}
		t.Run(name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range tt.env {
				env[k] = v
			}
			if env["LANG"] == "" && env["LC_ALL"] == "" {
				env["LANG"] = "C.UTF-8"
			}
			var want, got []string
			for try := 0; try < 5; try++ {
				before, code, _ := procps(t, tt.args, env)
				ours, ourCode, msg := tendPs(tt.args, env)
				after, _, _ := procps(t, tt.args, env)
				if ourCode != code {
					t.Fatalf("exit %d (%s); procps %d", ourCode, msg, code)
				}
				want, got = fixtureRows(before, tt.pidField, f), fixtureRows(ours, tt.pidField, f)
				if slices.Equal(want, fixtureRows(after, tt.pidField, f)) {
					break
				}
			}
			if len(want) < 2 && !slices.Contains(tt.args, "pid=,args=") {
				t.Fatalf("procps listed no fixture rows:\n%s", strings.Join(want, "\n"))
			}
			for i := range max(len(want), len(got)) {
				if i >= len(want) || i >= len(got) || want[i] != got[i] {
					t.Errorf("line %d:\nprocps %q\ntend   %q", i, at(want, i), at(got, i))
				}
			}
		})
	}
}

// TestPsDefaultIsFullFormat: without format options tend ps prints what
// procps's -f prints, with the UNIT column before the command.
func TestPsDefaultIsFullFormat(t *testing.T) {
	need(t, "ps")
	f := startPsFixture(t)
	ours, code, msg := tendPs([]string{"-p", f.list()}, map[string]string{"LANG": "C.UTF-8"})
	theirs, _, _ := procps(t, []string{"-f", "-p", f.list()}, map[string]string{"LANG": "C.UTF-8"})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, msg)
	}
	lines := strings.Split(ours, "\n")
	from, to := strings.Index(lines[0], "UNIT"), strings.Index(lines[0], "CMD")
	if from < 0 || to < from {
		t.Fatalf("no UNIT column before CMD:\n%s", ours)
	}
	for i, l := range lines {
		if len(l) >= to {
			lines[i] = l[:from] + l[to:]
		}
	}
	if got := strings.Join(lines, "\n"); got != theirs {
		t.Errorf("tend ps without UNIT:\n%s\nprocps -f:\n%s", got, theirs)
	}
}

// TestPsBadOptions: what procps refuses tend refuses with the same
// message and exit status.
func TestPsBadOptions(t *testing.T) {
	need(t, "ps")
	for _, args := range [][]string{
		{"-Q"}, {"Q"}, {"--bogus"}, {"-o", "bogus"}, {"-p", "x"}, {"-p", "0"}, {"-u", "no-such-user-xyz"},
		{"-o"}, {"-o", "pid,,ppid"}, {"-o", "user:0"}, {"-f", "-o", "pid"}, {"-L", "--forest"},
		{"-t", "nosuchtty"}, {"--forest=x"}, {"hh"}, {"--cols", "x"}, {"-y"}, {"--sort"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			_, code, msg := procps(t, args, nil)
			_, ourCode, ourMsg := tendPs(args, nil)
			if code != ourCode || msg != ourMsg {
				t.Errorf("tend: exit %d %q; procps: exit %d %q", ourCode, ourMsg, code, msg)
			}
		})
	}
}

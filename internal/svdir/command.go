package svdir

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Command is one byte written to supervise/control, as runsv reads them.
type Command byte

// The commands runsv understands (sv writes them; so can printf).
const (
	CmdUp    Command = 'u' // want up; start if down
	CmdDown  Command = 'd' // want down; TERM then CONT if running
	CmdOnce  Command = 'o' // want down; start if down (run once)
	CmdExit  Command = 'x' // want exit: stop, and the supervisor leaves
	CmdPause Command = 'p' // SIGSTOP
	CmdCont  Command = 'c' // SIGCONT
	CmdHup   Command = 'h' // SIGHUP
	CmdAlarm Command = 'a' // SIGALRM
	CmdInt   Command = 'i' // SIGINT
	CmdQuit  Command = 'q' // SIGQUIT
	CmdUsr1  Command = '1' // SIGUSR1
	CmdUsr2  Command = '2' // SIGUSR2
	CmdTerm  Command = 't' // SIGTERM
	CmdKill  Command = 'k' // SIGKILL
)

// ParseCommand maps a control byte to its command. 'e' is read as 'x':
// sv's "exit" verb may be spelt "e…", and sv writes 'x' for it, but a
// script writing the verb's initial means the same. Any other byte is
// not a command (runsv ignores it; Dir counts it).
func ParseCommand(c byte) (Command, bool) {
	switch c {
	case 'e':
		return CmdExit, true
	case 'u', 'd', 'o', 'x', 'p', 'c', 'h', 'a', 'i', 'q', '1', '2', 't', 'k':
		return Command(c), true
	}
	return 0, false
}

// Signal is the signal runsv sends the running process for c, or 0 for
// the commands that change what is wanted rather than signal (u, o; d and
// x send TERM and CONT, see runsv(8)). 'p' and 'c' return STOP and CONT.
func (c Command) Signal() unix.Signal {
	switch c {
	case CmdPause:
		return unix.SIGSTOP
	case CmdCont:
		return unix.SIGCONT
	case CmdHup:
		return unix.SIGHUP
	case CmdAlarm:
		return unix.SIGALRM
	case CmdInt:
		return unix.SIGINT
	case CmdQuit:
		return unix.SIGQUIT
	case CmdUsr1:
		return unix.SIGUSR1
	case CmdUsr2:
		return unix.SIGUSR2
	case CmdTerm, CmdDown, CmdExit:
		return unix.SIGTERM
	case CmdKill:
		return unix.SIGKILL
	}
	return 0
}

// Script is the letter of the control/X override runsv consults for c:
// 'o' is handled as 'u'. For d and x runsv runs control/t first (its exit
// status decides whether TERM is sent) and then control/d or control/x
// (status ignored); the log service has no overrides.
func (c Command) Script() byte {
	if c == CmdOnce {
		return byte(CmdUp)
	}
	return byte(c)
}

func (c Command) String() string {
	names := map[Command]string{
		CmdUp: "up", CmdDown: "down", CmdOnce: "once", CmdExit: "exit",
		CmdPause: "pause", CmdCont: "cont", CmdHup: "hup", CmdAlarm: "alarm",
		CmdInt: "interrupt", CmdQuit: "quit", CmdUsr1: "1", CmdUsr2: "2",
		CmdTerm: "term", CmdKill: "kill",
	}
	if n, ok := names[c]; ok {
		return n
	}
	return fmt.Sprintf("command(%q)", byte(c))
}

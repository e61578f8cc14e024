package sandbox

import (
	"fmt"
	"strings"
)

// capNames lists the capabilities by number (capabilities(7)).
var capNames = strings.Fields(`chown dac_override dac_read_search fowner fsetid kill setgid setuid
	setpcap linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner
	sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice sys_resource
	sys_time sys_tty_config mknod lease audit_write audit_control setfcap mac_override mac_admin
	syslog wake_alarm block_suspend audit_read perfmon bpf checkpoint_restore`)

// Capability numbers the sandbox settings drop.
const (
	capSysModule = 16
	capSysRawio  = 17
	capSysTime   = 25
	capMknod     = 27
	capSyslog    = 34
	capWakeAlarm = 35
)

// AllCaps is the set of every capability tend knows.
var AllCaps = uint64(1)<<len(capNames) - 1

// CapName is the lower-case name of capability n ("cap_chown").
func CapName(n int) string {
	if n < 0 || n >= len(capNames) {
		return fmt.Sprintf("cap_%d", n)
	}
	return "cap_" + capNames[n]
}

// ParseCaps parses a capability list ("CAP_CHOWN CAP_KILL", case
// insensitive, optionally starting with "~" to invert it) into a set,
// and whether it was inverted.
func ParseCaps(s string) (set uint64, inverted bool, err error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "~"); ok {
		s, inverted = rest, true
	}
	for _, w := range strings.Fields(s) {
		name := strings.TrimPrefix(strings.ToLower(w), "cap_")
		n := -1
		for i, c := range capNames {
			if c == name {
				n = i
			}
		}
		if n < 0 {
			return 0, false, fmt.Errorf("unknown capability %q", w)
		}
		set |= 1 << n
	}
	return set, inverted, nil
}

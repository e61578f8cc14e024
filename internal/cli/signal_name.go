package cli

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// signalName returns "TERM" for 15, as systemd prints signals in statuses.
func signalName(n int) string {
	if name := unix.SignalName(unix.Signal(n)); name != "" {
		return strings.TrimPrefix(name, "SIG")
	}
	return fmt.Sprint(n)
}

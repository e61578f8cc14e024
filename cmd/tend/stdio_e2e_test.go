package main

import (
	"bufio"
	"fmt"
	"net"
	"testing"
	"time"
)

// TestStandardInputSocketInheritsOutput: with StandardInput=socket and
// no StandardOutput=, output goes to the socket too ("inherit", as
// systemd.exec(5) defaults it), so cat echoes to its client.
func TestStandardInputSocketInheritsOutput(t *testing.T) {
	port := freePort(t)
	dir := writeUnits(t, map[string]string{
		"default.target": "[Unit]\nWants=echo.socket\n",
		"echo.socket":    fmt.Sprintf("[Socket]\nListenStream=127.0.0.1:%d\nAccept=yes\n", port),
		"echo@.service":  "[Service]\nExecStart=/bin/cat\nStandardInput=socket\n",
	})
	in := startTend(t, dir)
	in.waitState("echo.socket", "active (listening)")
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != "hello\n" {
		t.Errorf("echo: %q, %v; want hello back on the socket\n%s", got, err, in.stderr)
	}
}

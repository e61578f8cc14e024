package unit

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// TestKnownDirectivesOracle asks systemd for every directive it knows
// (--dump-configuration-items) and checks that none of the [Unit],
// [Service] and [Install] ones is reported as unknown by tend: each is
// either implemented or listed as unsupported.
func TestKnownDirectivesOracle(t *testing.T) {
	var bin string
	for _, p := range []string{"/lib/systemd/systemd", "/usr/lib/systemd/systemd"} {
		if _, err := exec.LookPath(p); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("systemd binary not installed: no oracle")
	}
	out, err := exec.Command(bin, "--dump-configuration-items").Output()
	if err != nil {
		t.Skipf("systemd cannot dump its directives: %v", err)
	}
	var text strings.Builder
	section, n := "", 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "["):
			section = line
			if section == "[Unit]" || section == "[Service]" || section == "[Install]" {
				text.WriteString(line + "\n")
			}
		case section == "[Unit]" || section == "[Service]" || section == "[Install]":
			if key, _, ok := strings.Cut(line, "="); ok && key != "" && !strings.HasPrefix(key, "#") {
				text.WriteString(key + "=\n")
				n++
			}
		}
	}
	if n < 100 {
		t.Fatalf("only %d directives in systemd's dump", n)
	}
	u := loadText(t, "all.service", "[Service]\nExecStart=/bin/true\n"+text.String())
	for _, d := range u.Diags {
		if strings.Contains(d.Msg, "unknown key") {
			t.Errorf("systemd knows it, tend calls it unknown: %s", d.Error())
		}
	}
}

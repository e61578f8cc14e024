package daemon

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestInitialPIDNamespace: this process is in the machine's first PID
// namespace or not, and a child started in a new one (unshare) is not.
func TestInitialPIDNamespace(t *testing.T) {
	if os.Getenv("TEND_TEST_PIDNS_CHILD") != "" {
		fmt.Println("initial:", initialPIDNamespace("/proc"))
		return
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare not installed")
	}
	if os.Getuid() != 0 {
		t.Skip("a new PID namespace needs root")
	}
	cmd := exec.Command("unshare", "--pid", "--fork", os.Args[0], "-test.run", "^TestInitialPIDNamespace$", "-test.v")
	cmd.Env = append(os.Environ(), "TEND_TEST_PIDNS_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "initial: false") {
		t.Fatalf("a process in a new PID namespace was taken for one in the first:\n%s", out)
	}
}

// TestBootBase: OnBootSec= counts from the kernel's boot, or from now
// in a container.
func TestBootBase(t *testing.T) {
	now := time.Now()
	if got := bootBase(now, true); !got.Equal(now) {
		t.Errorf("in a container: %v; want now", got)
	}
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	var up float64
	fmt.Sscan(string(b), &up)
	got := now.Sub(bootBase(now, false)).Seconds()
	if got < up-5 || got > up+5 {
		t.Errorf("outside a container the boot was %.0f s ago; uptime says %.0f", got, up)
	}
}

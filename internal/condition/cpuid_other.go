//go:build !amd64

package condition

// cpuidHypervisor is only available on x86-64; elsewhere the DMI and
// cpuinfo checks decide.
func cpuidHypervisor() string { return "" }

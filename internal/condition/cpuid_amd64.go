package condition

// cpuid executes the CPUID instruction (cpuid_amd64.s).
func cpuid(leaf uint32) (eax, ebx, ecx, edx uint32)

// cpuidHypervisor returns the hypervisor vendor signature of CPUID leaf
// 0x40000000, or "" when the CPU reports no hypervisor.
func cpuidHypervisor() string {
	if _, _, ecx, _ := cpuid(1); ecx&(1<<31) == 0 {
		return ""
	}
	_, b, c, d := cpuid(0x40000000)
	sig := make([]byte, 0, 12)
	for _, r := range []uint32{b, c, d} {
		sig = append(sig, byte(r), byte(r>>8), byte(r>>16), byte(r>>24))
	}
	return string(sig)
}

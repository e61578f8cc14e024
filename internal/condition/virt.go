package condition

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Virt is what the machine runs in, named as systemd-detect-virt names
// it; "none" when not virtualized.
type Virt struct {
	VM        string // e.g. "kvm", "qemu", "vmware", "bhyve", "vm-other"
	Container string // e.g. "docker", "podman", "lxc", "systemd-nspawn"
}

// Innermost returns the technology that ConditionVirtualization= tests:
// the container when there is one, else the VM.
func (v Virt) Innermost() string {
	if v.Container != "" && v.Container != "none" {
		return v.Container
	}
	if v.VM == "" {
		return "none"
	}
	return v.VM
}

func (e *evaluator) virt() Virt {
	if e.cachedVirt == nil {
		var v Virt
		if e.env.Virtualization != nil {
			v = e.env.Virtualization()
		} else {
			v = Detect(e.env.Root, e.env.Proc, e.env.Sys)
		}
		e.cachedVirt = &v
	}
	return *e.cachedVirt
}

func (e *evaluator) testVirtualization(arg string) (bool, error) {
	// Like systemd, only the innermost technology counts: a container
	// inside a VM is a container and not a VM.
	v := e.virt()
	ct := v.Container != "" && v.Container != "none"
	vm := !ct && v.VM != "" && v.VM != "none"
	switch arg {
	case "vm":
		return vm, nil
	case "container":
		return ct, nil
	case "private-users":
		return e.privateUsers(), nil
	case "":
		return false, fmt.Errorf("empty virtualization")
	}
	if b, err := parseBool(arg); err == nil {
		return (vm || ct) == b, nil
	}
	return v.Innermost() == arg, nil
}

// privateUsers reports whether we run in a user namespace that does not
// map the full UID range.
func (e *evaluator) privateUsers() bool {
	m, err := readTrim(filepath.Join(e.env.Proc, "self/uid_map"))
	if err != nil {
		return false
	}
	return strings.Join(strings.Fields(m), " ") != "0 0 4294967295"
}

// Detect tells what the machine runs in, checking the same evidence as
// systemd-detect-virt: container managers' marks (/proc/1/environ's
// container=, /run/systemd/container, /.dockerenv, /run/.containerenv, …)
// and, for VMs, the CPUID hypervisor leaf, DMI vendor strings and the
// cpuinfo hypervisor flag. Empty paths mean the host's.
func Detect(root, proc, sys string) Virt {
	if root == "" {
		root = "/"
	}
	if proc == "" {
		proc = "/proc"
	}
	if sys == "" {
		sys = "/sys"
	}
	return Virt{VM: detectVM(proc, sys), Container: detectContainer(root, proc)}
}

// DetectContainer is Detect's container part alone ("none" when there
// is no container): it reads no CPU or firmware information.
func DetectContainer(root, proc string) string {
	if root == "" {
		root = "/"
	}
	if proc == "" {
		proc = "/proc"
	}
	return detectContainer(root, proc)
}

// containerIDs are the container= values systemd knows; others are
// reported as container-other.
func containerIDs() []string {
	return []string{"openvz", "lxc", "lxc-libvirt", "systemd-nspawn", "docker",
		"podman", "rkt", "wsl", "proot", "pouch"}
}

func detectContainer(root, proc string) string {
	if exists(filepath.Join(proc, "vz")) && !exists(filepath.Join(proc, "bc")) {
		return "openvz"
	}
	if rel, _ := readTrim(filepath.Join(proc, "sys/kernel/osrelease")); strings.Contains(rel, "Microsoft") || strings.Contains(rel, "WSL") {
		return "wsl"
	}
	name := ""
	if b, err := os.ReadFile(filepath.Join(proc, "1/environ")); err == nil {
		for _, kv := range strings.Split(string(b), "\x00") {
			if v, ok := strings.CutPrefix(kv, "container="); ok {
				name = v
			}
		}
	}
	for _, f := range []string{"run/systemd/container", "run/host/container-manager"} {
		if name == "" {
			name, _ = readTrim(filepath.Join(root, f))
		}
	}
	switch {
	case name != "":
		for _, id := range containerIDs() {
			if id == name {
				return id
			}
		}
		if name == "oci" {
			return "docker"
		}
		return "container-other"
	case exists(filepath.Join(root, "run/.containerenv")):
		return "podman"
	case exists(filepath.Join(root, ".dockerenv")):
		return "docker"
	}
	return "none"
}

// hypervisorVendor maps the CPUID hypervisor vendor signature to an ID.
func hypervisorVendor(sig string) string {
	switch strings.TrimRight(sig, "\x00 ") {
	case "KVMKVMKVM", "Linux KVM Hv":
		return "kvm"
	case "TCGTCGTCGTCG":
		return "qemu"
	case "XenVMMXenVMM":
		return "xen"
	case "VMwareVMware":
		return "vmware"
	case "Microsoft Hv":
		return "microsoft"
	case "bhyve bhyve":
		return "bhyve"
	case "QNXQVMBSQG":
		return "qnx"
	case "ACRNACRNACRN":
		return "acrn"
	case "SRESRESRESRE":
		return "sre"
	case "Apple VZ":
		return "apple"
	}
	return ""
}

// dmiVendor maps a DMI vendor or product string to an ID.
func dmiVendor(s string) string {
	for _, v := range []struct{ prefix, id string }{
		{"KVM", "kvm"}, {"OpenStack", "kvm"}, {"KubeVirt", "kvm"}, {"Amazon EC2", "amazon"},
		{"QEMU", "qemu"}, {"VMware", "vmware"}, {"VMW", "vmware"}, {"innotek GmbH", "oracle"},
		{"VirtualBox", "oracle"}, {"Oracle Corporation", "oracle"}, {"Xen", "xen"},
		{"Bochs", "bochs"}, {"Parallels", "parallels"}, {"BHYVE", "bhyve"}, {"Hyper-V", "microsoft"},
		{"Apple Virtualization", "apple"}, {"Google Compute Engine", "google"},
	} {
		if strings.HasPrefix(s, v.prefix) {
			return v.id
		}
	}
	return ""
}

func detectVM(proc, sys string) string {
	dmi := ""
	for _, f := range []string{"product_name", "sys_vendor", "board_vendor", "bios_vendor", "product_version"} {
		if s, err := readTrim(filepath.Join(sys, "class/dmi/id", f)); err == nil && dmi == "" {
			dmi = dmiVendor(s)
		}
	}
	switch dmi {
	case "oracle", "xen", "amazon":
		return dmi // these are recognised more reliably by DMI than CPUID
	}
	if t, _ := readTrim(filepath.Join(sys, "hypervisor/type")); t == "xen" {
		return "xen"
	}
	if proc == "/proc" { // CPUID describes this machine, not a fixture tree
		if id := hypervisorVendor(cpuidHypervisor()); id != "" {
			return id
		}
	}
	if dmi != "" {
		return dmi
	}
	if cpuinfoHasHypervisor(proc) {
		return "vm-other"
	}
	return "none"
}

func cpuinfoHasHypervisor(proc string) bool {
	b, err := os.ReadFile(filepath.Join(proc, "cpuinfo"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "flags" {
			return strings.Contains(" "+v+" ", " hypervisor ")
		}
	}
	return false
}

package unit

import "strings"

// The tables below list systemd directives tend does not implement, by
// section, so the loader can tell "known but unsupported" (one summary
// warning per unit) from "unknown" (probably a typo, one warning per
// line). Directives tend implements are the cases of convert*.go.

var unsupportedUnit = words(`
	JoinsNamespaceOf RequiresMountsFor OnFailureJobMode IgnoreOnIsolate AllowIsolate
	CollectMode FailureAction SuccessAction FailureActionExitStatus SuccessActionExitStatus
	JobRunningTimeoutSec JobTimeoutAction JobTimeoutRebootArgument RebootArgument
	PropagatesStopTo StopPropagatedFrom OnFailureIsolate OnSuccessJobMode
	RequiresOverridable RequisiteOverridable
	SurviveFinalKillSignal WantsMountsFor`)

// unsupportedService holds [Service]-only directives plus those of
// systemd.exec(5), systemd.kill(5) and systemd.resource-control(5) that
// tend does not implement; all of them may also appear in [Socket],
// [Mount], [Swap] and [Scope] sections, which are not typed here.
var unsupportedService = words(`
	RuntimeRandomizedExtraSec TimeoutStartFailureMode TimeoutStopFailureMode BusName
	FileDescriptorStoreMax FileDescriptorStorePreserve USBFunctionDescriptors
	USBFunctionStrings OpenFile ReloadSignal ExitType NonBlocking
	RootDirectoryStartOnly PermissionsStartOnly SysVStartPriority RebootArgument
	TimeoutCleanSec FailureAction

	RootImageOptions RootEphemeral RootHash RootHashSignature RootVerity RootImagePolicy
	MountImagePolicy ExtensionImagePolicy MountImages ExtensionImages
	ExtensionDirectories NetworkNamespacePath IPCNamespacePath RestrictFileSystems
	MountFlags SystemCallLog SELinuxContext AppArmorProfile SmackProcessLabel
	KeyringMode TimerSlackNSec CoredumpFilter LogLevelMax LogExtraFields
	LogRateLimitIntervalSec LogRateLimitBurst LogFilterPatterns LogNamespace TTYRows
	TTYColumns TTYVTDisallocate UtmpIdentifier UtmpMode LoadCredentialEncrypted
	ImportCredential SetCredentialEncrypted PAMName Capabilities SetLoginEnvironment
	MemoryKSM PrivatePIDs BPFProgram



	StartupCPUWeight
	StartupAllowedCPUs StartupAllowedMemoryNodes
	StartupMemoryLow DefaultStartupMemoryLow
	StartupMemoryHigh StartupMemoryMax StartupMemorySwapMax
	MemoryZSwapMax StartupMemoryZSwapMax MemoryZSwapWriteback
	StartupIOWeight
	IODeviceLatencyTargetSec
	IPAccounting IPAddressAllow IPAddressDeny SocketBindAllow SocketBindDeny
	RestrictNetworkInterfaces NFTSet IPIngressFilterPath IPEgressFilterPath
	DeviceAllow DevicePolicy Slice Delegate DelegateSubgroup DisableControllers
	ManagedOOMSwap ManagedOOMMemoryPressure ManagedOOMMemoryPressureLimit
	ManagedOOMPreference MemoryPressureWatch MemoryPressureThresholdSec
	CoredumpReceive CPUShares StartupCPUShares MemoryLimit BlockIOAccounting
	BlockIOWeight StartupBlockIOWeight BlockIODeviceWeight BlockIOReadBandwidth
	BlockIOWriteBandwidth NetClass DefaultMemoryLow DefaultMemoryMin`)

// conditionKinds are the suffixes of Condition*= and Assert*=.
var conditionKinds = words(`
	Architecture Firmware Virtualization Host KernelCommandLine KernelVersion
	Credential Environment Security ACPower NeedsUpdate
	FirstBoot PathExists PathExistsGlob PathIsDirectory PathIsSymbolicLink
	PathIsMountPoint PathIsReadWrite PathIsEncrypted DirectoryNotEmpty FileNotEmpty
	FileIsExecutable User Group ControlGroupController Memory CPUs CPUFeature
	OSRelease MemoryPressure CPUPressure IOPressure Capability`)

// untypedSections are sections whose entries are kept in Unit.Entries
// for other packages to interpret; their directives are never warned
// about here.
var untypedSections = words(`Socket Timer Path Mount Automount Swap Slice Scope`)

// typedSection maps a unit kind to the section its typed settings live in.
var typedSection = map[Kind]string{
	KindService: "Service", KindSocket: "Socket", KindTimer: "Timer", KindPath: "Path",
	KindMount: "Mount", KindAuto: "Automount", KindSwap: "Swap", KindSlice: "Slice",
	KindScope: "Scope",
}

func words(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

package condition

// evaluator binds an Env (with defaults filled in) to the tests of each
// condition kind, and caches what is costly to find out once per Eval.
type evaluator struct {
	env        Env
	cachedVirt *Virt
	byKind     map[string]func(arg string) (bool, error) // see tests
}

func newEvaluator(env Env) *evaluator {
	if env.Root == "" {
		env.Root = "/"
	}
	if env.Proc == "" {
		env.Proc = "/proc"
	}
	if env.Sys == "" {
		env.Sys = "/sys"
	}
	e := &evaluator{env: env}
	e.byKind = e.tests()
	return e
}

// tests maps each condition kind (the part after Condition/Assert) to its
// test; the argument has the "|" and "!" prefixes removed.
func (e *evaluator) tests() map[string]func(arg string) (bool, error) {
	return map[string]func(string) (bool, error){
		"PathExists":             e.pathTest(pathExists),
		"PathExistsGlob":         e.pathExistsGlob,
		"PathIsDirectory":        e.pathTest(isDirectory),
		"PathIsSymbolicLink":     e.pathTest(isSymlink),
		"PathIsMountPoint":       e.pathTest(e.isMountPoint),
		"PathIsReadWrite":        e.pathTest(isReadWrite),
		"PathIsEncrypted":        e.pathTest(e.isEncrypted),
		"DirectoryNotEmpty":      e.pathTest(dirNotEmpty),
		"FileNotEmpty":           e.pathTest(fileNotEmpty),
		"FileIsExecutable":       e.pathTest(fileIsExecutable),
		"User":                   e.testUser,
		"Group":                  e.testGroup,
		"Host":                   e.testHost,
		"KernelCommandLine":      e.testKernelCommandLine,
		"KernelVersion":          e.testKernelVersion,
		"Virtualization":         e.testVirtualization,
		"Architecture":           e.testArchitecture,
		"Firmware":               e.testFirmware,
		"Environment":            e.testEnvironment,
		"Credential":             e.testCredential,
		"FirstBoot":              e.testFirstBoot,
		"NeedsUpdate":            e.testNeedsUpdate,
		"ACPower":                e.testACPower,
		"Security":               e.testSecurity,
		"Capability":             e.testCapability,
		"ControlGroupController": e.testControlGroupController,
		"CPUs":                   e.testCPUs,
		"Memory":                 e.testMemory,
		"CPUFeature":             e.testCPUFeature,
		"OSRelease":              e.testOSRelease,
		"MemoryPressure":         e.testPressure("memory"),
		"CPUPressure":            e.testPressure("cpu"),
		"IOPressure":             e.testPressure("io"),
	}
}

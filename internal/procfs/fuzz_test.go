package procfs

import "testing"

// The fuzz targets check that no input makes a parser panic, and that
// what a parser accepts is consistent.

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("42 (sleep) S 1 42 42 0 -1 4194304 10 0 0 0 3 4 0 0 20 0 1 0 500 8192000 100 1 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0"))
	f.Add([]byte("7 (a) b (c) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0"))
	f.Add([]byte("8 (x\ny) Z"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStat(b)
		if err == nil && len(s.Comm) > len(b) {
			t.Fatalf("comm longer than input")
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte("Name:\tx\nUid:\t1\t2\t3\t4\nGroups:\t1 2\nVmLck:\t1 kB\nSigIgn:\t00ff\n"))
	f.Add([]byte("Uid:\t0\t0\t0\t0\nVmLck:\t0 kB\nVmRSS:\t5 kB\nVmSwap:\tbad\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		full, err := ParseStatus(b)
		ids, errIDs := ParseStatusIDs(b)
		// Whatever the full parse accepts, the brief one reads alike.
		if err == nil && (errIDs != nil || ids.UIDs != full.UIDs || ids.VmLck != full.VmLck || ids.VmRSS != full.VmRSS) {
			t.Fatalf("ParseStatusIDs = %+v, %v; ParseStatus = %+v", ids, errIDs, full)
		}
	})
}

func FuzzParseCgroups(f *testing.F) {
	f.Add([]byte("12:pids:/a\n0::/tend/web.service\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		lines, err := ParseCgroups(b)
		main, errMain := ParseMainCgroup(b)
		if (err == nil) != (errMain == nil) || err == nil && MainCgroup(lines) != main {
			t.Fatalf("ParseMainCgroup = %q, %v; MainCgroup(ParseCgroups) = %q, %v", main, errMain, MainCgroup(lines), err)
		}
	})
}

func FuzzParseSmall(f *testing.F) {
	f.Add([]byte("1.0 2.0 3.0 1/2 3"))
	f.Add([]byte("cpu 1 2 3\nbtime 5\n"))
	f.Add([]byte("MemTotal: 1 kB\n"))
	f.Add([]byte("1 2 3 4 5 6 7"))
	f.Add([]byte("running"))
	f.Add([]byte("Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1 2 files\n"))
	f.Add([]byte("serial /dev/ttyS 4 64-111 serial\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseLoadAvg(b)
		ParseSysStat(b)
		ParseMemInfo(b)
		ParseStatm(b)
		ParseSyscall(b)
		ParseLimits(b)
		ParseCmdline(b)
		ParseLinkInode(string(b))
		direntNums(b)
		d := ParseTTYDrivers(b)
		names := &TTYNames{drivers: d, cache: map[uint64]string{}}
		for _, dev := range []uint64{1, 4<<8 | 70, 300<<8 | 5} {
			names.Name(dev)
		}
	})
}

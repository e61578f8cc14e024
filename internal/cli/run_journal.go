package cli

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/tendproject/tend/internal/journal"
)

// journalFlags are tend run's journal limits (journald.conf's SystemMaxUse=
// and friends); zero keeps the journal's defaults.
type journalFlags struct {
	maxUse, keepFree, maxFile, perUnit int64
	maxAge                             time.Duration
	rateInterval                       time.Duration
	rateBurst                          int
}

func (j *journalFlags) register(f *pflag.FlagSet) {
	f.Int64Var(&j.maxUse, "journal-max-use", 0, "cap the journal at `BYTES` (default: 10% of its file system, at most 4 GiB)")
	f.Int64Var(&j.keepFree, "journal-keep-free", 0, "leave `BYTES` free on the journal's file system (default: 15%, at most 4 GiB)")
	f.Int64Var(&j.maxFile, "journal-max-file-size", 0, "rotate a unit's segment at `BYTES`")
	f.Int64Var(&j.perUnit, "journal-per-unit-max-use", 0, "cap one unit's share of the journal at `BYTES` (default: a quarter of the cap)")
	f.DurationVar(&j.maxAge, "journal-max-age", 0, "drop entries older than `DURATION` (default: keep)")
	f.DurationVar(&j.rateInterval, "journal-rate-limit-interval", 0, "with --journal-rate-limit-burst: per-pipe rate limit window (default: no limit, backpressure instead)")
	f.IntVar(&j.rateBurst, "journal-rate-limit-burst", 0, "keep at most `N` lines per window and pipe, counting the rest")
}

func (j *journalFlags) options() journal.Options {
	return journal.Options{
		MaxUse: j.maxUse, KeepFree: j.keepFree, MaxFileSize: j.maxFile, PerUnitMaxUse: j.perUnit,
		MaxAge: j.maxAge, RateLimitInterval: j.rateInterval, RateLimitBurst: j.rateBurst,
	}
}

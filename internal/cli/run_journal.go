package cli

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/tendproject/tend/internal/journal"
	"github.com/tendproject/tend/internal/unit"
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
	f.Var((*byteSize)(&j.maxUse), "journal-max-use", "cap the journal at `SIZE` (bytes, or with K, M, G, T: 20M) (default: 10% of its file system, at most 4 GiB)")
	f.Var((*byteSize)(&j.keepFree), "journal-keep-free", "leave `SIZE` free on the journal's file system (default: 15%, at most 4 GiB)")
	f.Var((*byteSize)(&j.maxFile), "journal-max-file-size", "rotate a unit's segment at `SIZE`")
	f.Var((*byteSize)(&j.perUnit), "journal-per-unit-max-use", "cap one unit's share of the journal at `SIZE` (default: a quarter of the cap)")
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

// byteSize is a size flag: bytes, or a number with a K, M, G, T, P or E
// suffix (powers of 1024) as in journald.conf and unit files.
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	n, err := unit.ParseSize(s)
	if err != nil {
		return err
	}
	if n > math.MaxInt64 {
		return fmt.Errorf("size %q out of range", s)
	}
	*b = byteSize(n)
	return nil
}

func (b *byteSize) Type() string { return "size" }

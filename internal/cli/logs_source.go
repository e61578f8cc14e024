package cli

import (
	"context"
	"os"
	"time"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/client"
	"github.com/tendproject/tend/internal/journal"
)

// journalSource is what `tend logs` reads and maintains: the instance it
// is pointed at (the daemon behind --socket or --user), or, with an
// explicit --directory, a journal directory without any daemon.
type journalSource interface {
	query(ctx context.Context, q journal.Query, follow bool, fn func(journal.Entry) error) error
	boots(ctx context.Context) ([]journal.Boot, error)
	diskUsage(ctx context.Context) (api.LogDiskUsage, error)
	vacuum(ctx context.Context, size int64, age time.Duration) (api.LogVacuumResult, error)
	fieldValues(ctx context.Context, field string) ([]string, error)
	// damage lists damage skipped while reading (only a directory knows).
	damage() []journal.Damage
}

// dirSource reads a journal directory directly (--directory).
type dirSource struct {
	dir string
	r   *journal.Reader
}

func openDirSource(dir string) (*dirSource, error) {
	r, err := journal.OpenReadOnly(dir)
	if err != nil {
		return nil, err
	}
	return &dirSource{dir: dir, r: r}, nil
}

func (d *dirSource) query(ctx context.Context, q journal.Query, follow bool, fn func(journal.Entry) error) error {
	if follow {
		return d.r.Follow(ctx, q, fn)
	}
	return d.r.Query(ctx, q, fn)
}

func (d *dirSource) boots(context.Context) ([]journal.Boot, error) { return d.r.Boots(), nil }

func (d *dirSource) diskUsage(context.Context) (api.LogDiskUsage, error) {
	n, err := d.r.DiskUsage()
	return api.LogDiskUsage{Dir: d.dir, Bytes: n}, err
}

// vacuum opens the directory for writing, which fails while a daemon
// holds it: then the daemon is the one to ask.
func (d *dirSource) vacuum(_ context.Context, size int64, age time.Duration) (api.LogVacuumResult, error) {
	freed, err := journal.VacuumDir(d.dir, size, age)
	return api.LogVacuumResult{Dir: d.dir, FreedBytes: freed}, err
}

func (d *dirSource) fieldValues(ctx context.Context, field string) ([]string, error) {
	host, _ := os.Hostname()
	return d.r.FieldValues(ctx, journal.Query{}, field, host, nil)
}

func (d *dirSource) damage() []journal.Damage { return d.r.Damage() }

// daemonSource asks a running tend.
type daemonSource struct {
	c      *client.Client
	lo, hi int
}

func (d daemonSource) query(ctx context.Context, q journal.Query, follow bool, fn func(journal.Entry) error) error {
	return d.c.LogsFunc(ctx, apiQuery(q, follow, d.lo, d.hi), func(e api.LogEntry) error {
		// The wire reads PriorityMin = PriorityMax = 0 as "no filter";
		// "-p emerg" is therefore applied here as well.
		if d.hi == 0 && e.Priority != 0 {
			return nil
		}
		return fn(fromAPI(e))
	})
}

func (d daemonSource) boots(ctx context.Context) ([]journal.Boot, error) {
	bs, err := d.c.LogBoots(ctx)
	out := make([]journal.Boot, len(bs))
	for i, b := range bs {
		out[i] = journal.Boot{ID: b.ID, First: b.First, Last: b.Last}
	}
	return out, err
}

func (d daemonSource) diskUsage(ctx context.Context) (api.LogDiskUsage, error) {
	return d.c.LogDiskUsage(ctx)
}

func (d daemonSource) vacuum(ctx context.Context, size int64, age time.Duration) (api.LogVacuumResult, error) {
	return d.c.LogVacuum(ctx, api.LogVacuumRequest{SizeBytes: size, AgeSeconds: age.Seconds()})
}

func (d daemonSource) fieldValues(ctx context.Context, field string) ([]string, error) {
	return d.c.LogFieldValues(ctx, field)
}

func (d daemonSource) damage() []journal.Damage { return nil }

package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/journal"
	"github.com/tendproject/tend/internal/logroute"
	"github.com/tendproject/tend/internal/syslog"
	"github.com/tendproject/tend/internal/syslogconf"
)

// syslogConfFiles is what --syslog-conf names: the given files, or for
// the host's system instance (no --units) syslog.conf and rsyslog's files
// where they exist, used only when tend got /dev/log. An instance with
// its own unit directories leaves the host's log files to the host's
// syslog daemon.
func syslogConfFiles(cfg Config) []string {
	if cfg.SyslogConf != nil {
		return cfg.SyslogConf
	}
	if !cfg.hostInstance() {
		return nil
	}
	var out []string
	for _, p := range syslogconf.Defaults {
		if m, _ := filepath.Glob(p); len(m) > 0 {
			out = append(out, p)
		}
	}
	return out
}

// startLogFiles loads syslog.conf and runs its file, pipe and terminal
// rules (a Router) and its forwarding rules (one Forwarder each) until
// ctx ends. Each bad line is warned about; the others apply.
func (d *daemon) startLogFiles(ctx context.Context, wg *sync.WaitGroup) {
	files := syslogConfFiles(d.cfg)
	if len(files) == 0 {
		return
	}
	if d.cfg.SyslogConf == nil && d.syslog == nil {
		// Another syslog daemon owns /dev/log: the files are its to write.
		d.log.Info("not writing syslog.conf's files: another daemon has the syslog socket", "config", strings.Join(files, " "))
		return
	}
	cfg, errs := syslogconf.Load(files)
	for _, err := range errs {
		d.log.Warn("syslog.conf: line ignored", "err", err)
	}
	if len(cfg.Rules) == 0 {
		return
	}
	d.log.Info("routing the journal to log files", "config", strings.Join(cfg.Files, " "), "rules", len(cfg.Rules))
	d.router = logroute.New(logroute.Options{
		Config: cfg, Journal: d.journal, Logger: d.log,
		StateFile: filepath.Join(d.cfg.Paths.Journal, "syslog-files.state"),
	})
	// Before the receivers and units start: a first run's files get
	// everything logged from here on.
	d.router.Begin(ctx)
	d.syslogBatch.waitFeed = d.router.WaitFeed
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := d.router.Run(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("log files: routing stopped", "err", err)
		}
	}()
	for i, r := range cfg.Rules {
		if r.Kind == syslogconf.ForwardUDP || r.Kind == syslogconf.ForwardTCP {
			d.startRuleForward(ctx, wg, cfg, i)
		}
	}
}

// startRuleForward runs the forwarder of rule i, which sends what the rule
// selects (and no "~" rule before it discards) with its own cursor.
func (d *daemon) startRuleForward(ctx context.Context, wg *sync.WaitGroup, cfg *syslogconf.Config, i int) {
	r := cfg.Rules[i]
	network := "udp"
	if r.Kind == syslogconf.ForwardTCP {
		network = "tcp"
	}
	host, _ := os.Hostname()
	name := strings.NewReplacer("/", "_", ":", "_", "[", "", "]", "").Replace(network + "-" + r.Address)
	f := syslog.NewForwarder(syslog.ForwardOptions{
		Network: network, Address: r.Address, Hostname: host, Logger: d.log,
		StateFile: filepath.Join(d.cfg.Paths.Journal, "forward-"+name+".cursor"),
		Source: journalSource{j: d.journal, keep: func(e journal.Entry) bool {
			return cfg.Selects(i, e.Facility, e.Priority)
		}},
	})
	d.ruleForwards = append(d.ruleForwards, f)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := f.Run(ctx); err != nil && ctx.Err() == nil {
			d.log.Error("syslog forwarding stopped", "rule", r.Origin, "err", err)
		}
	}()
}

// reopenLogFiles is SIGHUP's and `tend reload-logs`' work for the files.
func (d *daemon) reopenLogFiles() api.ReloadLogsResult {
	res := api.ReloadLogsResult{Files: []string{}}
	if d.router == nil {
		return res
	}
	res.Files = append(res.Files, d.router.Paths()...)
	for _, err := range d.router.Reopen() {
		res.Errors = append(res.Errors, err.Error())
	}
	return res
}

func (a *apiManager) ReloadLogs(context.Context) (api.ReloadLogsResult, error) {
	return a.d.reopenLogFiles(), nil
}

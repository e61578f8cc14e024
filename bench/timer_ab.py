#!/usr/bin/env python3
"""Timer firing precision, builds interleaved in one run.

    bench/timer_ab.py OLD_TEND,NEW_TEND ROUNDS FIRINGS exec|sh

Each round runs every build in turn: a timer OnCalendar=*:*:0/0.1,
AccuracySec=1us, whose job is /bin/date (exec: date is the job) or
sh -c 'date >> FILE' (sh: two fork+execs); the lateness of a firing is the
time date reads minus the due time. The first two firings of a start are
left out (start-up). Prints p50/p90/p99/max per build over all rounds.
"""
import os, subprocess, sys, time, tempfile, math, shutil, signal
bins = sys.argv[1].split(',')
rounds = int(sys.argv[2]); per = int(sys.argv[3]); variant = sys.argv[4]
res = {b: [] for b in bins}
for r in range(rounds):
    for b in bins:
        w = tempfile.mkdtemp(prefix='timers-ab-')
        units = os.path.join(w, 'units'); os.mkdir(units)
        out = os.path.join(w, 'fired')
        open(os.path.join(units, 'p.timer'), 'w').write('[Timer]\nOnCalendar=*:*:0/0.1\nAccuracySec=1us\n')
        ex = ("ExecStart=/bin/date +%%%%s.%%%%N\nStandardOutput=append:%s\n" % out) if variant == 'exec' else \
             ("ExecStart=/bin/sh -c 'date +%%%%s.%%%%N >> %s'\n" % out)
        open(os.path.join(units, 'p.service'), 'w').write('[Unit]\nStartLimitIntervalSec=0\n[Service]\nType=oneshot\n' + ex)
        rd = os.path.join(w, 'run'); sock = None
        p = subprocess.Popen([b, 'run', '--units', units, '--runtime-dir', rd, '--journal-dir', os.path.join(w, 'j'),
                              '--syslog-socket', os.path.join(w, 'log'), '--crontab', '', '--state-dir', os.path.join(w, 'state')],
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(w, 'err'), 'w'))
        for _ in range(200):
            if os.path.exists(os.path.join(rd, 'tend.sock')): sock = os.path.join(rd, 'tend.sock'); break
            time.sleep(0.05)
        ok = False
        for _ in range(100):
            if subprocess.run([b, 'start', 'p.timer', '--socket', sock], capture_output=True).returncode == 0: ok = True; break
            time.sleep(0.1)
        if not ok: print('start failed', b, open(os.path.join(w, 'err')).read()[-500:]); sys.exit(1)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                n = len(open(out).read().split())
            except FileNotFoundError:
                n = 0
            if n >= per + 2: break
            time.sleep(0.2)
        p.send_signal(signal.SIGTERM); p.wait(30)
        vals = [float(x) for x in open(out).read().split()][2:per + 2]  # skip the first two (start-up)
        res[b] += [(f - math.floor(f * 10) / 10) * 1000 for f in vals]
        shutil.rmtree(w, ignore_errors=True)
for b in bins:
    l = sorted(res[b]); n = len(l)
    print('%-28s %s n=%d p50=%.2f p90=%.2f p99=%.2f max=%.2f ms' % (b, variant, n, l[n // 2], l[n * 9 // 10], l[n * 99 // 100], l[-1]))

#!/usr/bin/python3
"""Restart bursts, A/B over builds: N Restart=always, RestartSec=0 services (the harness's
run script) all killed with SIGKILL at once, ROUNDS times per build, builds alternating
round by round (each build's tend stays up throughout, so both meet the same load).
Per burst: wall time from the kills until all N replacements run `sleep`, and the CPU
all of tend's threads spent (schedstat), per service. Needs root.
usage: restart_burst.py N ROUNDS bin1 bin2 ..."""
import os,sys,time,signal,subprocess,shutil,statistics
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proctree import children, comm, cpu
n=int(sys.argv[1]); rounds=int(sys.argv[2]); bins=sys.argv[3:]
def sleeps(p): return {c for c in children(p.pid) if comm(c)=='sleep'}
def wait_all(p, old):
    t=time.monotonic()
    while True:
        s=sleeps(p)
        if len(s)==n and not (s & old): return s
        assert time.monotonic()-t<60, 'services did not come back'
        time.sleep(0.001)
procs=[]
try:
    for k,b in enumerate(bins):
        d=f'/tmp/restart-burst/{k}'; shutil.rmtree(d, ignore_errors=True); os.makedirs(f'{d}/units')
        for i in range(n):
            os.makedirs(f'{d}/sv/s{i}')
            open(f'{d}/sv/s{i}/run','w').write('#!/bin/sh\nexec sleep 1000000\n'); os.chmod(f'{d}/sv/s{i}/run',0o755)
            open(f'{d}/units/s{i}.service','w').write(f'[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart={d}/sv/s{i}/run\nRestart=always\nRestartSec=0\n')
        open(f'{d}/units/default.target','w').write('[Unit]\n'+''.join(f'Wants=s{i}.service\n' for i in range(n)))
        p=subprocess.Popen([b,'run','--units',f'{d}/units','--runtime-dir',f'{d}/run','--journal-dir',f'{d}/journal','--log-level','warn'],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
        procs.append(p); wait_all(p, set())
    time.sleep(1)
    res={b:([],[]) for b in bins}
    for r in range(rounds):
        for b,p in zip(bins,procs):
            old=sleeps(p); c0=cpu(p.pid); t0=time.monotonic()
            for s in old: os.kill(s, signal.SIGKILL)
            wait_all(p, old)
            res[b][0].append((time.monotonic()-t0)*1e3); res[b][1].append((cpu(p.pid)-c0)/n/1e3)
            time.sleep(0.3)
    for b in bins:
        w,c=res[b]
        print(f'{b}: burst of {n}: all back median {statistics.median(w):.0f} ms (min {min(w):.0f}, max {max(w):.0f}); tend CPU per service median {statistics.median(c):.0f} µs')
finally:
    for p in procs:
        p.send_signal(signal.SIGTERM); p.wait()
    shutil.rmtree('/tmp/restart-burst', ignore_errors=True)

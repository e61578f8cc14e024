#!/usr/bin/python3
"""CPU time tend spends per restart after kill -9, A/B over builds: one Restart=always,
RestartSec=0 service (the harness's run script) killed N times per round, rounds
alternating between the builds; CPU is the sum of every tend thread's (and the fd
holder's) schedstat run time. Needs root; work directories under $RESTART_CPU_DIR
(default /tmp/restart-cpu; a tmpfs like the harness's gives its figures).
usage: restart_cpu.py N ROUNDS bin1 bin2 ... [--svdir] [--profile] [--perf] [--ptrace]
  --svdir: the service runs as a service directory (`tend run --svdir`, no unit file),
  killed once it ran a second (runsv restarts a younger ./run a second later);
  --profile: tend's own CPU profile per build (--cpu-profile); --perf: perf record -g of
  tend and its children; --ptrace: perf trace -s (system call counts and times)
  (GCTRACE=1 in the environment: GODEBUG=gctrace=1 into the build's stderr file)."""
import os,sys,time,signal,subprocess,shutil,statistics
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from proctree import children, comm, cpu
n=int(sys.argv[1]); rounds=int(sys.argv[2]); bins=[a for a in sys.argv[3:] if not a.startswith('--')]
prof='--profile' in sys.argv
perfrec='--perf' in sys.argv
ptrace='--ptrace' in sys.argv
svdir='--svdir' in sys.argv
def run(binary, tag):
    d=os.path.join(os.environ.get('RESTART_CPU_DIR','/tmp/restart-cpu'), tag); shutil.rmtree(d, ignore_errors=True)
    os.makedirs(f'{d}/sv/s0'); os.makedirs(f'{d}/units')
    open(f'{d}/sv/s0/run','w').write('#!/bin/sh\nexec sleep 1000000\n'); os.chmod(f'{d}/sv/s0/run',0o755)
    if not svdir:
        open(f'{d}/units/s0.service','w').write(f'[Unit]\nStartLimitIntervalSec=0\n[Service]\nExecStart={d}/sv/s0/run\nRestart=always\nRestartSec=0\n')
        open(f'{d}/units/default.target','w').write('[Unit]\nWants=s0.service\n')
    argv=[binary,'run','--units',f'{d}/units','--runtime-dir',f'{d}/run','--journal-dir',f'{d}/journal','--log-level','warn']
    if svdir: argv+=['--svdir',f'{d}/sv']
    if prof: argv+=['--cpu-profile',f'{d}.pprof']
    env=dict(os.environ)
    if os.environ.get('GCTRACE'): env['GODEBUG']='gctrace=1'
    p=subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(f'{d}/err','w'), env=env)
    def svc():
        return [c for c in children(p.pid) if comm(c)=='sleep']
    def holder():
        return [c for c in children(p.pid) if comm(c)!='sleep']
    t=time.monotonic()
    while not svc():
        time.sleep(0.01)
        assert time.monotonic()-t<30
    time.sleep(0.5)
    h=holder()
    if perfrec:
        pr=subprocess.Popen(['perf','record','-q','-F','15000','-g','-p',str(p.pid),'-o',f'{d}.perf.data'],stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    if ptrace:
        pt=subprocess.Popen(['perf','trace','-s','-p',str(p.pid),'-o',f'{d}.ptrace.txt'],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
        time.sleep(1.0)
    c0=cpu(p.pid); h0=sum(cpu(x) for x in h)
    for i in range(n):
        old=svc()[0]
        os.kill(old, signal.SIGKILL)
        while True:
            s=svc()
            if s and s[0]!=old: break
            time.sleep(0.001)
        # A ./run that lasted less than a second is restarted a second later (runsv's rule).
        time.sleep(1.05 if svdir else 0.02)
    c1=cpu(p.pid); h1=sum(cpu(x) for x in h)
    if perfrec:
        pr.send_signal(signal.SIGINT); pr.wait()
    if ptrace:
        pt.send_signal(signal.SIGINT); pt.wait()
    p.send_signal(signal.SIGTERM); p.wait()
    return (c1-c0)/n/1e3, (h1-h0)/n/1e3
res={b:[] for b in bins}
for r in range(rounds):
    for k,b in enumerate(bins):
        res[b].append(run(b, f'{k}'))
for b in bins:
    xs=[x for x,_ in res[b]]; hs=[h for _,h in res[b]]
    print(f'{b}: tend CPU per restart µs: median {statistics.median(xs):.0f} (runs {", ".join(f"{x:.0f}" for x in xs)}); holder {statistics.median(hs):.0f}')

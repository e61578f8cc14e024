"""What the restart scripts read of a process tree from /proc: a process's
children (all its threads'), its name, and the CPU all its threads ran."""
import glob


def children(pid):
    out = []
    for t in glob.glob(f'/proc/{pid}/task/*/children'):
        try:
            out += [int(x) for x in open(t).read().split()]
        except OSError:
            pass
    return out


def comm(pid):
    try:
        return open(f'/proc/{pid}/comm').read().strip()
    except OSError:
        return ''


def cpu(pid):
    """Nanoseconds every thread of pid ran (schedstat)."""
    s = 0
    for t in glob.glob(f'/proc/{pid}/task/*/schedstat'):
        try:
            s += int(open(t).read().split()[0])
        except OSError:
            pass
    return s

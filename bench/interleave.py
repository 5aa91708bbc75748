#!/usr/bin/env python3
"""Time commands interleaved: every cycle runs each once, in a new random
order, so a busy neighbour or a slow moment of the machine hits them all
alike (hyperfine runs one command's runs back to back).

  interleave.py [--ref NAME] CYCLES OUT.json NAME 'CMD ARG...' [NAME 'CMD ARG...' ...]

Commands are split on spaces and spawned directly (no shell), with their
output to /dev/null; a command that fails stops the run. The first ten
cycles are a warm-up. OUT.json gets {NAME: [ms, ...]} in cycle order. With
--ref, stderr gets each command's median and its ratio to NAME: the median
of the cycles' ratios, with a 95% bootstrap interval.
"""
import json, os, random, statistics, sys, time

argv = sys.argv[1:]
ref = None
if argv[:1] == ["--ref"]:
    ref, argv = argv[1], argv[2:]
cycles, out, args = int(argv[0]), argv[1], argv[2:]
cmds = {args[i]: args[i + 1].split() for i in range(0, len(args), 2)}
null = os.open("/dev/null", os.O_RDWR)
fa = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)]


def once(argv):
    t = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=fa)
    _, st = os.waitpid(pid, 0)
    t = time.perf_counter() - t
    if st != 0:
        sys.exit("interleave.py: failed: %s" % " ".join(argv))
    return t * 1000


names = list(cmds)
times = {n: [] for n in names}
for c in range(cycles + 10):
    random.shuffle(names)
    for n in names:
        ms = once(cmds[n])
        if c >= 10:
            times[n].append(ms)
    if c % 50 == 49:
        print("interleave.py: cycle %d of %d" % (c + 1, cycles + 10), file=sys.stderr)
json.dump(times, open(out, "w"))

if ref:
    rng = random.Random(1)
    for n in cmds:
        r = [a / b for a, b in zip(times[n], times[ref])]
        boot = sorted(statistics.median(rng.choices(r, k=len(r))) for _ in range(1000))
        print("%s: median %.2f ms, mean %.2f ms over %d runs; to %s, median of the cycles' ratios %.3f "
              "(95%%: %.3f..%.3f)" % (n, statistics.median(times[n]), statistics.mean(times[n]), len(times[n]),
                                     ref, statistics.median(r), boot[25], boot[974]), file=sys.stderr)

"""The Python peers of the localtasks benchmarks: concurrent.futures, the
engine under django-tasks-local, running the same work as the Go side.

    python3 peers.py W1 thread N        # N no-op tasks, ThreadPoolExecutor(8)
    python3 peers.py W2 thread N        # N 10 ms sleeps, ThreadPoolExecutor(100)
    python3 peers.py W3 process N R     # N chains of R SHA-256 rounds, ProcessPoolExecutor(2)
    python3 peers.py W4 process N       # N no-op tasks, ProcessPoolExecutor(2)
    python3 peers.py sha SEED R         # one chain's value, to check it matches Go's

Each prints one JSON object: {"tasks": N, "seconds": elapsed, "extra":
{"cpu_us": ..., "workers_cpu_us": ...}}, timed from the first submit until
every result has been read and checked; the CPU time a task took, in
microseconds, counts the executor's setup and shutdown too, and the
workers' alone where there are worker processes. A process pool is
warmed up first (a no-op task per worker), as the Go process pool's workers
have started before its clock starts; a thread pool is not, as the Go pools'
goroutines are not.
"""

import hashlib
import json
import resource
import struct
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor


def noop(n):
    return n


def sleep10(n):
    time.sleep(0.010)
    return n


def sha(seed, rounds):
    """Hash seed (8 bytes, little-endian), then the 32-byte digest again,
    rounds times in all; return the digest's first 8 bytes as an int."""
    d = hashlib.sha256(struct.pack("<Q", seed)).digest()
    for _ in range(rounds - 1):
        d = hashlib.sha256(d).digest()
    return int.from_bytes(d[:8], "little")


def measure(executor, fn, args, check):
    start = time.perf_counter()
    futures = [executor.submit(fn, *a) for a in args]
    results = [f.result() for f in futures]
    seconds = time.perf_counter() - start
    for i, r in enumerate(results):
        check(i, r)
    return seconds


def check_identity(i, r):
    if r != i:
        raise SystemExit(f"task {i} returned {r}")


def warm(executor, workers):
    for f in [executor.submit(noop, i) for i in range(workers)]:
        f.result()


def cpu():
    """CPU seconds (user and system) of this process, and of the children
    it waited for: a ProcessPoolExecutor's workers, once it has shut down."""
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime, c.ru_utime + c.ru_stime


def main(argv):
    workload, kind = argv[1], argv[2]
    if workload == "sha":
        print(json.dumps({"value": sha(int(argv[2]), int(argv[3]))}))
        return
    n = int(argv[3])
    rounds = int(argv[4]) if len(argv) > 4 else 0
    self0, children0 = cpu()
    if (workload, kind) == ("W1", "thread"):
        with ThreadPoolExecutor(8) as ex:
            seconds = measure(ex, noop, [(i,) for i in range(n)], check_identity)
    elif (workload, kind) == ("W2", "thread"):
        with ThreadPoolExecutor(100) as ex:
            seconds = measure(ex, sleep10, [(i,) for i in range(n)], check_identity)
    elif (workload, kind) == ("W3", "process"):
        with ProcessPoolExecutor(2) as ex:
            warm(ex, 2)

            def check_sha(i, r):
                if i % 50 == 0 and r != sha(i, rounds):
                    raise SystemExit(f"sha task {i} returned {r}")

            seconds = measure(ex, sha, [(i, rounds) for i in range(n)], check_sha)
    elif (workload, kind) == ("W4", "process"):
        with ProcessPoolExecutor(2) as ex:
            warm(ex, 2)
            seconds = measure(ex, noop, [(i,) for i in range(n)], check_identity)
    else:
        raise SystemExit(f"peers.py: unknown workload {workload} {kind}")
    self1, children1 = cpu()
    extra = {"cpu_us": (self1 - self0 + children1 - children0) / n * 1e6}
    if children1 > children0:
        extra["workers_cpu_us"] = (children1 - children0) / n * 1e6
    print(json.dumps({"tasks": n, "seconds": seconds, "extra": extra}))


if __name__ == "__main__":
    main(sys.argv)

"""Argon2id hashes per second when several processes hash at once, per malloc policy.

    .venv/bin/python bench/argon2_processes.py              # the table in docs/benchmarks.md
    .venv/bin/python bench/argon2_processes.py --processes 4 --hashes 100

What gunicorn's workers do at full accept load, without the rest of the request: each of
`--processes` processes runs `--threads` threads that hash with the production cost
(ARGON2_TIME_COST / _MEMORY_COST_KIB / _PARALLELISM, defaults as in settings), at most
`slots` at once per process (the hasher's ARGON2_MAX_CONCURRENT_HASHES). Each row is one
allocator policy:

    mmap threshold   MALLOC_MMAP_THRESHOLD_=1048576 (what bin/serve set before): every hash
                     maps and zeroes a fresh block and hands it back
    glibc default    freed blocks stay in the arena of the thread that freed them
    2 arenas         mallopt(M_ARENA_MAX, 2) (the deleted annex set it in gunicorn.conf.py;
                     stock gunicorn leaves glibc its default, MALLOC_ARENA_MAX sets it)

Prints hashes/s over all processes, user and system CPU per hash, and the largest process's
peak RSS. All processes start together and share the machine with nothing else we start.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

WORKER = """
import ctypes, json, os, resource, sys, threading, time
from argon2.low_level import Type, hash_secret
if os.environ.get("CAP_ARENAS"):
    ctypes.CDLL(None).mallopt(-8, int(os.environ["CAP_ARENAS"]))  # M_ARENA_MAX
threads, slots, total = (int(a) for a in sys.argv[1:4])
cost = dict(time_cost=int(os.environ.get("ARGON2_TIME_COST", 2)),
            memory_cost=int(os.environ.get("ARGON2_MEMORY_COST_KIB", 19456)),
            parallelism=int(os.environ.get("ARGON2_PARALLELISM", 1)))
gate, lock, left = threading.BoundedSemaphore(slots), threading.Lock(), [total]
def work():
    while True:
        with lock:
            if left[0] == 0:
                return
            left[0] -= 1
        with gate:
            hash_secret(b"correct-horse-9", os.urandom(16), hash_len=32, type=Type.ID, **cost)
sys.stdin.readline()  # start together
t0, c0 = time.perf_counter(), os.times()
pool = [threading.Thread(target=work) for _ in range(threads)]
for t in pool:
    t.start()
for t in pool:
    t.join()
c1 = os.times()
print(json.dumps({"wall": time.perf_counter() - t0, "user": c1.user - c0.user,
    "sys": c1.system - c0.system,
    "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

POLICIES = {
    "mmap threshold": {"MALLOC_MMAP_THRESHOLD_": "1048576"},
    "glibc default": {},
    "2 arenas": {"CAP_ARENAS": "2"},
}


def run(policy: dict, processes: int, threads: int, slots: int, hashes: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | policy
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(threads), str(slots), str(hashes)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = [json.loads(proc.communicate()[0]) for proc in procs]
    done = hashes * processes
    return {
        "hashes_per_s": round(done / max(r["wall"] for r in results), 1),
        "user_ms": round(1000 * sum(r["user"] for r in results) / done, 1),
        "sys_ms": round(1000 * sum(r["sys"] for r in results) / done, 1),
        "peak_rss_mib": round(max(r["rss_mib"] for r in results)),
    }


def main() -> int:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=2 * cores, help="gunicorn's default")
    parser.add_argument("--threads", type=int, default=16, help="per process")
    parser.add_argument("--hashes", type=int, default=60, help="per process")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    layouts = [
        ("one per core per process", cores),
        ("cores / processes", max(1, cores // args.processes)),
    ]
    rows = []
    for slots_name, slots in layouts:
        for name, policy in POLICIES.items():
            result = run(policy, args.processes, args.threads, slots, args.hashes)
            rows.append({"policy": name, "slots": f"{slots} ({slots_name})", **result})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(
        f"{args.processes} processes x {args.threads} threads on {cores} cores, {args.hashes} each"
    )
    print(
        "| malloc policy | hashes at once per process | hashes/s | user ms/hash | system ms/hash "
        "| peak RSS of a process |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['policy']} | {r['slots']} | {r['hashes_per_s']} | {r['user_ms']} | "
            f"{r['sys_ms']} | {r['peak_rss_mib']} MiB |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

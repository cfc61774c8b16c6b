"""Printing the load benchmarks' reports (signup_load.py, compare_seed.py)."""

from __future__ import annotations


def print_table(report: dict) -> None:
    gen = report["generator"]
    print(f"\nmachine: {report['machine']['cores']} cores, {report['machine']['python']}")
    print(f"server: {report['server']}")
    print(
        f"load generator ceiling (trivial server, c={gen['concurrency']}): {gen['rps']:.0f} req/s,"
        f" {gen['cpu_us_per_req']:.0f} us CPU per request"
    )
    h = report["argon2"]
    if h:
        print(
            f"argon2id t={h['time_cost']} m={h['memory_cost_kib']} KiB p={h['parallelism']}: "
            f"{h['hash_ms']} ms per hash -> hashing limit {h['limit_per_s']}/s "
            f"({h['cores']} cores / hash time; measured on all cores: "
            f"{h['measured_parallel_per_s']}/s)"
        )
    header = (
        f"{'latency':>7} {'conc':>4} {'path':<6} {'reqs':>6} {'ok':>6} {'ok/s':>7} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'cpu ms/req srv+sbx+pg':>22} {'gen cpu':>7} {'busy':>5}  uptime"
    )
    print("\n" + header)
    for r in report["results"]:
        load = r["uptime"].split("load average:")[-1].strip()
        cpu = (
            f"{r['server_cpu_ms_per_req']:.1f}+{r['sandbox_cpu_ms_per_req']:.1f}"
            f"+{r['postgres_cpu_ms_per_req']:.1f}"
        )
        print(
            f"{r['latency_ms']:>7} {r['concurrency']:>4} {r['path']:<6} {r['requests']:>6} "
            f"{r['ok']:>6} {r['rps']:>7.1f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} "
            f"{cpu:>22} {r['gen_cpu']:>7.2f} {r['machine_busy']:>5.2f}"
            f"  {load}"
        )
        if r["ok"] != r["requests"]:
            print(f"{'':>20}statuses {r['statuses']} (ok = expected status and body)")
    accept = [r for r in report["results"] if r["path"] == "accept"]
    if h and accept:
        best = max(r["rps"] for r in accept)
        print(f"\naccepted: {best:.1f}/s = {best / h['limit_per_s']:.0%} of the hashing limit")
    if report.get("memory"):
        m = report["memory"]
        print(
            f"server memory (master + workers) over the runs: peak RSS {m['peak_rss_mib']} MiB,"
            f" peak PSS {m['peak_pss_mib']} MiB"
        )
    if report.get("soak"):
        s = report["soak"]
        print(
            f"\nsoak {s['seconds']} s: {s['requests']} requests; server RSS (master + workers) "
            f"first {s.get('first_rss_mib')} MiB, last {s.get('last_rss_mib')} MiB, peak "
            f"{s.get('peak_rss_mib')} MiB (peak PSS {s.get('peak_pss_mib')} MiB); "
            f"after each slice: {s['rss_mib_after_each_slice']}"
        )
    print(f"\n{report['uptime_end']}")


def _rate(r: dict) -> str:
    return f"{r['rps']:.1f}/s, p99 {_ms(r['p99_ms'])}"


def _ms(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms"


def _5xx(r: dict) -> int:
    return sum(n for status, n in r["statuses"].items() if status.startswith("5"))


def _machine_ms(report: dict, r: dict) -> float:
    """Machine time per answer: all cores' busy share over the run, divided by the rate
    (everything on the machine counts: server, sandbox, PostgreSQL, the load generator)."""
    return report["machine"]["cores"] * r["machine_busy"] * 1000 / r["rps"] if r["rps"] else 0.0


def print_bounds(report: dict, runs: dict) -> None:
    """What bounds the 0 ms refusals and the accepts, from this run's own figures."""
    floor = report.get("floor")
    if floor and floor["rps"]:
        base = _machine_ms(report, floor)
        print(
            f"\nfloor: fpdjango's cheapest answer (400 before any Fingerprint call or write):"
            f" {floor['rps']:.0f}/s, {floor['server_cpu_ms_per_req']:.2f} ms server CPU,"
            f" {base:.2f} ms of machine"
        )
        for path in ("dup", "bot"):
            seed, fp = runs.get((0, 32, path, "seed")), runs.get((0, 32, path, "fpdjango"))
            if not seed or not fp or not seed["rps"]:
                continue
            # At the seed's rate, with every core busy, each refusal may take this much.
            budget = report["machine"]["cores"] * 1000 / seed["rps"]
            io = fp["postgres_cpu_ms_per_req"] + fp["sandbox_cpu_ms_per_req"]
            own = _machine_ms(report, fp) - base - io
            print(
                f"  0 ms {path}: 1.0x allows {budget:.2f} ms of machine per refusal; the floor"
                f" ({base:.2f}), PostgreSQL and the stand-in API ({io:.2f}) leave"
                f" {budget - base - io:.2f} ms for the refusal's own work, which takes {own:.2f}"
            )
    h = report["argon2"]
    accept = runs.get((0, 32, "accept", "fpdjango"))
    if accept and accept["rps"] and h["limit_per_s"]:
        hash_ms = h["cores"] * 1000 / h["limit_per_s"]
        beyond = _machine_ms(report, accept) - hash_ms
        line = (
            f"  accepts: {hash_ms:.1f} ms of machine per hash; 80% of the limit leaves"
            f" {hash_ms / 4:.1f} ms per accept for everything else"
        )
        if floor and floor["rps"]:
            io = accept["postgres_cpu_ms_per_req"] + accept["sandbox_cpu_ms_per_req"]
            base = _machine_ms(report, floor)
            line += (
                f"; the floor, PostgreSQL and the stand-in API ({io:.2f}) leave"
                f" {hash_ms / 4 - base - io:.2f} ms for the accept's own work, which takes"
                f" {beyond - base - io:.2f}"
            )
        else:
            line += f", which takes {beyond:.1f} ms"
        print(line)


def print_comparison(report: dict) -> None:
    """compare_seed.py: the issue's table, with ratios (fpdjango / seed) and the targets."""
    gen, h = report["generator"], report["argon2"]
    print(f"\nmachine: {report['machine']['cores']} cores, Python {report['machine']['python']}")
    print(f"fpdjango gunicorn: {report['server']['fpdjango']}")
    print(f"load generator ceiling: {gen['rps']:.0f} req/s, {gen['cpu_us_per_req']:.0f} us/req")
    limit = h["limit_per_s"]
    print(
        f"argon2id t={h['time_cost']} m={h['memory_cost_kib']} KiB: {h['hash_ms']} ms per hash,"
        f" hashing limit {limit}/s ({h['cores']} cores / hash time; all cores at once:"
        f" {h['measured_parallel_per_s']}/s)"
    )
    runs = {
        (r["latency_ms"], r["concurrency"], r["path"], r["target"]): r for r in report["results"]
    }
    names = {"dup": "duplicate-device refusals", "bot": "bad-bot refusals", "accept": "accepted"}
    print(
        "\n| upstream, clients | scenario | seed | fpdjango | ratio | target |\n"
        "|---|---|---|---|---|---|"
    )
    checks = []
    for latency, clients, path in dict.fromkeys(k[:3] for k in runs):
        seed, fp = (
            runs.get((latency, clients, path, "seed")),
            runs.get((latency, clients, path, "fpdjango")),
        )
        if not seed or not fp:  # one server only (--targets): its figures, no ratio
            print(
                f"| {latency} ms, {clients} | {names[path]} | {_rate(seed) if seed else '-'} |"
                f" {_rate(fp) if fp else '-'} | - | (needs both) |"
            )
            continue
        ratio = fp["rps"] / seed["rps"] if seed["rps"] else float("inf")
        if path == "accept":
            share = fp["rps"] / limit if limit else 0
            target = f">= 80% of {limit}/s: {share:.0%}"
            met = share >= 0.8
            cells = (f"{seed['rps']:.1f}/s (plaintext)", f"{fp['rps']:.1f}/s (Argon2id)")
        elif latency == 0:
            target, met = ">= 1.0x", ratio >= 1.0
            cells = (_rate(seed), _rate(fp))
        else:
            target, met = ">= 10x, p99 < 400 ms", ratio >= 10 and fp["p99_ms"] < 400
            cells = (_rate(seed), _rate(fp))
        checks.append(met)
        print(
            f"| {latency} ms, {clients} | {names[path]} | {cells[0]} | {cells[1]} | {ratio:.2f} |"
            f" {target}: {'met' if met else 'MISSED'} |"
        )
    print_bounds(report, runs)
    print("\none-device flood (legitimate user: new humans signing up; p99 alone -> under flood)")
    print("| target | legit alone | legit under flood | rise | flood (one device) | target |")
    print("|---|---|---|---|---|---|")
    for name, f in report["flood"].items():
        alone, flooded, flood = f["alone"], f["flooded"], f["flood"]
        rise = flooded["p99_ms"] / alone["p99_ms"] if alone["p99_ms"] else float("inf")
        met = rise <= 2.0
        if name == "fpdjango":
            checks.append(met)
        print(
            f"| {name} | {_rate(alone)} | {_rate(flooded)} | {rise:.1f}x | {_rate(flood)} |"
            f" {'<= 2x: ' + ('met' if met else 'MISSED') if name == 'fpdjango' else ''} |"
        )
    everything = report["results"] + [run for f in report["flood"].values() for run in f.values()]
    fivexx = {}
    for r in everything:
        fivexx[r["target"]] = fivexx.get(r["target"], 0) + _5xx(r)
    checks.append(fivexx.get("fpdjango", 0) == 0)
    print(f"\n5xx answers: {fivexx}")
    for line, count in (report.get("fpdjango_errors") or {}).items():
        print(f"  fpdjango log: {count} x {line}")
    bad = [r for r in everything if r["ok"] != r["requests"] and r["path"] != "flood"]
    for r in bad:
        print(f"  {r['target']} {r['path']} {r['latency_ms']} ms: statuses {r['statuses']}")
    print(f"targets met: {sum(checks)} of {len(checks)}")
    print(f"\n{report['uptime_end']}")

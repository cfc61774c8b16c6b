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
        f"{'p99 ms':>7} {'cpu ms/req srv+proxy+sbx+pg':>28} {'gen cpu':>7} {'busy':>5}  uptime"
    )
    print("\n" + header)
    for r in report["results"]:
        load = r["uptime"].split("load average:")[-1].strip()
        cpu = (
            f"{r['server_cpu_ms_per_req']:.1f}+{r.get('proxy_cpu_ms_per_req', 0):.1f}"
            f"+{r['sandbox_cpu_ms_per_req']:.1f}+{r['postgres_cpu_ms_per_req']:.1f}"
        )
        print(
            f"{r['latency_ms']:>7} {r['concurrency']:>4} {r['path']:<6} {r['requests']:>6} "
            f"{r['ok']:>6} {r['rps']:>7.1f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} "
            f"{cpu:>28} {r['gen_cpu']:>7.2f} {r['machine_busy']:>5.2f}"
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


def _rate(r: dict | None) -> str:
    return f"{r['rps']:.1f}/s, p99 {_ms(r['p99_ms'])}" if r else "-"


def _ms(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms"


def _5xx(r: dict) -> int:
    return sum(n for status, n in r["statuses"].items() if status.startswith("5"))


def _ratio(a: dict | None, b: dict | None) -> float | None:
    if not a or not b or not b["rps"]:
        return None
    return a["rps"] / b["rps"]


def _x(ratio: float | None, digits: int = 2) -> str:
    return "-" if ratio is None else f"{ratio:.{digits}f}"


NAMES = {"dup": "duplicate refusals", "bot": "bot refusals", "accept": "accepts"}
# The targets for this checkout ("stock"): (latency, path) -> (what, check)
PRICE_OF_DELETION = 0.85  # at 0 ms, stock at least 85% of the baseline's own figure


def targets_of(latency: int, path: str, stock, seed, base) -> tuple[str, bool] | None:
    if latency == 100 and path == "bot" and stock and seed:
        ratio = _ratio(stock, seed)
        met = ratio is not None and ratio >= 10 and stock["p99_ms"] < 500
        return ">= 10x seed, p99 < 500 ms", met
    if latency == 100 and path == "dup" and stock and seed:
        ratio = _ratio(stock, seed)
        return ">= 8x seed", ratio is not None and ratio >= 8
    if latency == 0 and stock and base:
        ratio = _ratio(stock, base)
        return f">= {PRICE_OF_DELETION:.2f}x baseline", ratio is not None and ratio >= 0.85
    return None


def print_comparison(report: dict) -> None:
    """compare_seed.py: every figure, its ratio to the seed, and stock / baseline."""
    gen, h = report["generator"], report["argon2"]
    print(f"\nmachine: {report['machine']['cores']} cores, Python {report['machine']['python']}")
    for name, server in report["servers"].items():
        print(f"{name}: {server}")
    print(f"load generator ceiling: {gen['rps']:.0f} req/s, {gen['cpu_us_per_req']:.0f} us/req")
    limit = h["limit_per_s"]
    print(
        f"argon2id t={h['time_cost']} m={h['memory_cost_kib']} KiB: {h['hash_ms']} ms per hash,"
        f" hashing limit {limit}/s ({h['cores']} cores / hash time; all cores at once:"
        f" {h['measured_parallel_per_s']}/s)"
    )
    print(f"start: {report['uptime_start']}")
    runs = {
        (r["latency_ms"], r["concurrency"], r["path"], r["target"]): r for r in report["results"]
    }
    names = [n for n in report["servers"] if n != "stock"]
    base_name = names[0] if names else None
    print(
        f"\n| upstream, clients | scenario | seed | stock | {base_name or '-'} | stock/seed |"
        f" {base_name or '-'}/seed | stock/{base_name or '-'} | target |\n"
        "|---|---|---|---|---|---|---|---|---|"
    )
    checks = []
    for latency, clients, path in dict.fromkeys(k[:3] for k in runs):
        seed = runs.get((latency, clients, path, "seed"))
        stock = runs.get((latency, clients, path, "stock"))
        base = runs.get((latency, clients, path, base_name)) if base_name else None
        target = targets_of(latency, path, stock, seed, base)
        verdict = ""
        if target:
            checks.append(target[1])
            verdict = f"{target[0]}: {'met' if target[1] else 'MISSED'}"
        if path == "accept" and stock and limit:
            verdict += f" (stock at {stock['rps'] / limit:.0%} of the hashing limit)"
        print(
            f"| {latency} ms, {clients} | {NAMES[path]} | {_rate(seed)} | {_rate(stock)} |"
            f" {_rate(base)} | {_x(_ratio(stock, seed))} | {_x(_ratio(base, seed))} |"
            f" {_x(_ratio(stock, base))} | {verdict} |"
        )
    print("\nCPU per answer, ms, from /proc: server + proxy + PostgreSQL + sandbox (load, 1 min)")
    print("| upstream | scenario | " + " | ".join(n for n in ("seed", "stock", *names)) + " |")
    print("|---|---|" + "---|" * (2 + len(names)))
    for latency, clients, path in dict.fromkeys(k[:3] for k in runs):
        cells = []
        for name in ("seed", "stock", *names):
            r = runs.get((latency, clients, path, name))
            cells.append(_cpu(r) if r else "-")
        print(f"| {latency} ms | {NAMES[path]} | " + " | ".join(cells) + " |")
    print("\none-device flood (legitimate user: new humans signing up; p99 alone -> under flood)")
    print("| target | legit alone | legit under flood | rise | flood (one device) | target |")
    print("|---|---|---|---|---|---|")
    rises = {}
    for name, f in report["flood"].items():
        alone, flooded, flood = f["alone"], f["flooded"], f["flood"]
        rise = flooded["p99_ms"] / alone["p99_ms"] if alone["p99_ms"] else float("inf")
        rises[name] = rise
        met = rise <= 2.0
        if name == "stock":
            checks.append(met)
        print(
            f"| {name} | {_rate(alone)} | {_rate(flooded)} | {rise:.2f}x | {_rate(flood)} |"
            f" {'<= 2x: ' + ('met' if met else 'MISSED') if name == 'stock' else ''} |"
        )
    if "stock" in rises and base_name in rises:
        print(f"rise, stock / {base_name}: {rises['stock'] / rises[base_name]:.2f}")
    everything = report["results"] + [run for f in report["flood"].values() for run in f.values()]
    fivexx = {}
    for r in everything:
        fivexx[r["target"]] = fivexx.get(r["target"], 0) + _5xx(r)
    checks.append(fivexx.get("stock", 0) == 0)
    print(f"\n5xx answers: {fivexx}")
    for name, errors in (report.get("errors") or {}).items():
        for line, count in errors.items():
            print(f"  {name} log: {count} x {line}")
    for name, errors in (report.get("proxy_errors") or {}).items():
        for line, count in errors.items():
            print(f"  {name} nginx: {count} x {line}")
    bad = [r for r in everything if r["ok"] != r["requests"] and r["path"] != "flood"]
    for r in bad:
        print(f"  {r['target']} {r['path']} {r['latency_ms']} ms: statuses {r['statuses']}")
    print(f"targets met: {sum(checks)} of {len(checks)}")
    print(f"\nend: {report['uptime_end']}")


def _cpu(r: dict) -> str:
    load = r["uptime"].split("load average:")[-1].split(",")[0].strip()
    return (
        f"{r['server_cpu_ms_per_req']:.2f} + {r.get('proxy_cpu_ms_per_req', 0):.2f} +"
        f" {r['postgres_cpu_ms_per_req']:.2f} + {r['sandbox_cpu_ms_per_req']:.2f} ({load})"
    )

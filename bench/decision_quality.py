"""Decision quality on a labelled population: who is allowed, held and denied, per class,
beside the seed quickstart's rule on the same signups (docs/decision-quality.md).

    .venv/bin/python bench/decision_quality.py                 # 1,000 signups, seed 1
    .venv/bin/python bench/decision_quality.py --users 3000 --seed 7
    .venv/bin/python bench/decision_quality.py --set RISK_DEVICE_LIMIT_STRICT=1

It starts its own stack with production settings (a fresh PostgreSQL database, the sandbox,
gunicorn; bench/stack.py) behind one trusted proxy (RISK_TRUSTED_PROXY_COUNT=1), and
signs the population of `sandbox.simulation.KINDS` up through the real API over HTTP: each
class sends its own network's address in X-Forwarded-For (homes, offices, one carrier-NAT
address, datacenters, rotating proxies) and the sandbox makes its events on that address.

The seed quickstart's rule (`../shared/anchors/seed_quickstart/server.py`) is applied to the
same signups, in the order they were made, on the v3 event the seed's SDK would fetch from the
sandbox: a bot result other than `notDetected` (or none at all) is refused, a visitor's second
account is refused, an id Fingerprint does not know fails (no account).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from stack import SANDBOX_KEY, Stack  # noqa: E402

from sandbox import simulation  # noqa: E402

# A throttled signup (429) is refused too: no account, and the device or address was told to
# wait (SIGNUP_THROTTLE_*_RATE); it counts as denied.
OUTCOMES = {
    "created": "allowed",
    "pending_review": "held",
    "denied": "denied",
    "throttled": "denied",
}
TARGETS = {
    "legitimate denied": ("<=", 1.0),
    "no-doubt people allowed": (">=", 98.0),
    "fraud allowed": ("<=", 1.0),
    "fraud denied": (">=", 85.0),
}
# People with no reason to doubt them: ordinary users, privacy browsers, phones behind a
# carrier NAT, students behind a campus address (Android app users are ordinary users too).
NO_DOUBT = ("ordinary", "android_user", "privacy", "carrier_nat", "campus")


def seed_rule(report: simulation.SimulationReport, sandbox_url: str) -> dict[str, Counter]:
    """What the seed quickstart would have answered, per class."""
    http = requests.Session()
    http.headers["Auth-API-Key"] = SANDBOX_KEY
    accounts: set[str] = set()  # visitor ids the seed's table holds
    table: dict[str, Counter] = {}
    for attempt in report.attempts:  # in the order they were made (per device, exactly)
        outcome = "denied"
        response = http.get(f"{sandbox_url}/events/{attempt.event_id}", timeout=30)
        if response.status_code == 200:
            products = response.json().get("products", {})
            visitor = products["identification"]["data"]["visitorId"]
            bot = products.get("botd", {}).get("data", {}).get("bot", {}).get("result", "unknown")
            if bot == "notDetected" and visitor not in accounts:
                accounts.add(visitor)
                outcome = "allowed"
        if not attempt.victim:
            table.setdefault(attempt.kind, Counter())[outcome] += 1
    return table


def ours(report: simulation.SimulationReport) -> dict[str, Counter]:
    table: dict[str, Counter] = {}
    for attempt in report.counted:
        table.setdefault(attempt.kind, Counter())[OUTCOMES.get(attempt.outcome, "other")] += 1
    return table


def totals(table: dict[str, Counter]) -> dict[str, float]:
    def share(kinds, outcome) -> float:
        n = sum(sum(table.get(k, Counter()).values()) for k in kinds)
        hit = sum(table.get(k, Counter())[outcome] for k in kinds)
        return round(100 * hit / n, 2) if n else 0.0

    legit = [k for k in table if simulation.KINDS[k].legit]
    fraud = [k for k in table if not simulation.KINDS[k].legit]
    return {
        "legitimate denied": share(legit, "denied"),
        "legitimate held": share(legit, "held"),
        "no-doubt people allowed": share([k for k in NO_DOUBT if k in table], "allowed"),
        "fraud allowed": share(fraud, "allowed"),
        "fraud held": share(fraud, "held"),
        "fraud denied": share(fraud, "denied"),
    }


def meets(name: str, value: float) -> str:
    if name not in TARGETS:
        return ""
    op, bound = TARGETS[name]
    ok = value <= bound if op == "<=" else value >= bound
    return f"target {op} {bound:g}%: {'met' if ok else 'MISSED'}"


def print_tables(mine: dict[str, Counter], seed: dict[str, Counter], meta: dict) -> None:
    print(
        f"\n{meta['users']} signups, {meta['actors']} devices, seed {meta['seed']}, "
        f"{meta['elapsed_s']:.0f}s; settings: {meta['settings'] or 'defaults'}\n"
    )
    head = f"{'class':<17}{'kind':<7}{'n':>5} | {'allowed':>8}{'held':>6}{'denied':>7} |"
    print(head + f" {'seed: allowed':>13}{'denied':>7}")
    print("-" * len(head) + "-" * 22)
    for kind_name in simulation.KINDS:
        if kind_name not in mine:
            continue
        row, base = mine[kind_name], seed.get(kind_name, Counter())
        label = "legit" if simulation.KINDS[kind_name].legit else "fraud"
        print(
            f"{kind_name:<17}{label:<7}{sum(row.values()):>5} | {row['allowed']:>8}"
            f"{row['held']:>6}{row['denied']:>7} | {base['allowed']:>13}{base['denied']:>7}"
        )
    print()
    ours_totals, seed_totals = totals(mine), totals(seed)
    print(f"{'':<26}{'fpdjango':>9}{'seed rule':>11}")
    for name, value in ours_totals.items():
        print(f"{name:<26}{value:>8.2f}%{seed_totals[name]:>10.2f}%   {meets(name, value)}")


def lab_allowlist(stack: Stack) -> None:
    """The QA lab's range on the stack's allowlist, as its staff would add it."""
    server = stack.server
    subprocess.run(
        [server.python, "manage.py", "allowlist", "add", "network", simulation.LAB_NETWORK,
         "--note", "QA lab (bench)"],
        cwd=server.checkout, env=server.env, check=True, capture_output=True,
    )  # fmt: skip


BACKTEST = """
import json
from collections import Counter
from risk.models import SignupAttempt
from risk.services.backtest import backtest_run
report = backtest_run(window_days=7, values={})
print(json.dumps({
    "recorded": Counter(SignupAttempt.objects.values_list("decision", flat=True)),
    "backtest": report.outcomes["proposed"],
    "scored": report.tally["scored"], "skipped": report.tally["skipped"],
    "differ": report.tally["drift"],
}))
"""


def backtest_check(stack: Stack) -> dict:
    """The console's backtest over the run's own attempts, with the thresholds the run used:
    it must give every attempt the decision the API gave it (`differ` 0), so its figures are
    the bench's."""
    server = stack.server
    done = subprocess.run(
        [server.python, "manage.py", "shell", "-c", BACKTEST],
        cwd=server.checkout, env=server.env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=8, help="devices signing up at once")
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/fpdjango_decisions"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a server setting"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stack = Stack(args)
    stack.env["RISK_TRUSTED_PROXY_COUNT"] = "1"  # the load generator is the trusted proxy
    stack.env.update(pair.partition("=")[::2] for pair in args.set)
    started = time.monotonic()
    stack.start()
    try:
        lab_allowlist(stack)
        report = simulation.signups_simulate(
            api_url=stack.url,
            sandbox_url=stack.sandbox_url,
            users=args.users,
            seed=args.seed,
            workers=args.concurrency,
            forwarded=True,
            progress=sys.stderr.isatty(),
            mix={k: w for k, w in simulation.DEFAULT_MIX.items() if simulation.KINDS[k].bench},
        )
        seed = seed_rule(report, stack.sandbox_url)
        backtest = backtest_check(stack)
    finally:
        stack.stop()
    mine = ours(report)
    errors = sum(row["other"] for row in mine.values())
    meta = {
        "users": args.users,
        "actors": report.actors,
        "seed": args.seed,
        "elapsed_s": time.monotonic() - started,
        "settings": " ".join(args.set),
    }
    print_tables(mine, seed, meta)
    print(
        f"\nbacktest with the same thresholds over the {backtest['scored']} stored attempts "
        f"({backtest['skipped']} skipped): {dict(sorted(backtest['backtest'].items()))}; "
        f"recorded: {dict(sorted(backtest['recorded'].items()))}; "
        f"attempts decided differently: {backtest['differ']}"
    )
    if errors:
        print(f"\n{errors} signups got no decision (errors, 5xx or throttling): see the logs")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "meta": meta,
                    "fpdjango": {k: dict(v) for k, v in mine.items()},
                    "seed_rule": {k: dict(v) for k, v in seed.items()},
                    "totals": totals(mine),
                    "seed_totals": totals(seed),
                    "backtest": backtest,
                },
                indent=2,
            )
        )
    return 1 if errors or backtest["differ"] else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Profile refusals in one process: the whole WSGI path, middleware to response (pyinstrument).

    .venv/bin/python bench/profile_refusal.py                  # 400 duplicate-device refusals
    .venv/bin/python bench/profile_refusal.py --path bot --requests 1000 --html /tmp/p.html
    .venv/bin/python bench/profile_refusal.py --path accept --no-profile  # hash included
    .venv/bin/python bench/profile_refusal.py --path bot --compare-stacks   # fast path vs full

Starts its own sandbox and PostgreSQL database (`--database-url`, dropped and migrated), like
signup_load.py, with production settings; then calls fpdjango's WSGI application directly
(no gunicorn, no sockets on our side) with `POST /api/create-account` bodies, one thread, so
the profile is the refusal's own work plus its Fingerprint and database round trips. Prints
the CPU per refusal (process time) and pyinstrument's call tree.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time

from load import EventFeed
from stack import ROOT, Stack, set_latency


def environ_for(body: bytes) -> dict:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/create-account",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_ACCEPT": "application/json",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--path", default="dup", choices=["dup", "bot", "accept"])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "PROFILE_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fpdjango_profile"
        ),
    )
    parser.add_argument("--html", help="also write pyinstrument's HTML report here")
    parser.add_argument("--no-profile", action="store_true", help="time only, no profiler")
    parser.add_argument(
        "--cpu", action="store_true", help="cProfile on CPU time (process_time) instead"
    )
    parser.add_argument("--callees", help="with --cpu: also list what functions matching this call")
    parser.add_argument("--tottime", action="store_true", help="with --cpu: also by own time")
    parser.add_argument(
        "--compare-stacks",
        action="store_true",
        help="no profiler: the signup fast path and Django's full stack in turns, in blocks of "
        "--requests, --rounds times (the machine's drift hits both alike)",
    )
    parser.add_argument("--rounds", type=int, default=20, help="with --compare-stacks")
    args = parser.parse_args()
    args.workers = args.threads = None
    stack = Stack(args).for_throughput()
    stack.start_sandbox()
    try:
        set_latency(stack.sandbox_url, 0)
        os.environ.update(stack.env)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fpdjango.settings")
        sys.path.insert(0, str(ROOT))
        import django
        from pyinstrument import Profiler

        django.setup()
        # What gunicorn serves: the signup fast path in front of Django's handler, unless
        # SIGNUP_FAST_PATH=0 (accounts/fast_path.py).
        from fpdjango.wsgi import application as app

        answers: list[str] = []

        def call(body: bytes, app=app) -> None:
            out = app(environ_for(body), lambda status, headers: answers.append(status))
            b"".join(out)
            out.close()

        visitor = ""
        if args.path == "dup":
            first = EventFeed(stack.sandbox_url, "accept", 1, id_field="requestId")
            first.prefill(1)
            call(first.pop())
            first.close()
            if not answers[-1].startswith("201"):
                raise SystemExit(f"first account not created: {answers[-1]}")
            from risk.models import Device

            visitor = Device.objects.order_by("-pk").values_list("visitor_id", flat=True)[0]
        warm = 50
        total = args.requests * (2 * args.rounds if args.compare_stacks else 1) + warm
        feed = EventFeed(
            stack.sandbox_url, args.path, total, visitor_id=visitor, id_field="requestId"
        )
        feed.prefill(total)
        for _ in range(warm):
            call(feed.pop())
        answers.clear()
        if args.compare_stacks:
            return compare_stacks(call, feed, args, answers)
        if args.no_profile:
            profiler = None
        elif args.cpu:  # CPU only: the waits on PostgreSQL and the sandbox do not count
            profiler = cProfile.Profile(time.process_time)
            profiler.start = profiler.enable
            profiler.stop = profiler.disable
        else:
            profiler = Profiler(interval=0.0005)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if profiler:
            profiler.start()
        for _ in range(args.requests):
            call(feed.pop())
        if profiler:
            profiler.stop()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        feed.close()
        statuses = {s: answers.count(s) for s in set(answers)}
        print(
            f"{args.requests} {args.path} signups in one thread: {statuses}; "
            f"{cpu * 1000 / args.requests:.2f} ms CPU and {wall * 1000 / args.requests:.2f} ms "
            f"wall per signup (profiler {'on' if profiler else 'off'})"
        )
        if profiler and args.cpu:
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(
                r"fpdjango|accounts/|risk/|rest_framework|"
                r"requests/sessions|psycopg/cursor|"
                r"django/core/handlers|json/",
                60,
            )
            if args.tottime:
                stats.sort_stats("tottime").print_stats(40)
            if args.callees:
                stats.print_callees(args.callees)
        elif profiler:
            print(profiler.output_text(unicode=True, color=False, show_all=False))
            if args.html:
                with open(args.html, "w") as fh:
                    fh.write(profiler.output_html())
    finally:
        stack.stop()
    return 0


def compare_stacks(call, feed, args, answers: list[str]) -> int:
    """CPU per signup through the project's application (the fast path) and through Django's
    handler alone, in alternating blocks in this one process."""
    from django.core.handlers.wsgi import WSGIHandler

    from fpdjango.wsgi import application

    stacks = {"fast path": application, "full stack": WSGIHandler()}
    seen: dict[str, list[float]] = {name: [] for name in stacks}
    for _ in range(args.rounds):
        for name, app in stacks.items():
            cpu0 = time.process_time()
            for _ in range(args.requests):
                call(feed.pop(), app)
            seen[name].append((time.process_time() - cpu0) * 1000 / args.requests)
    statuses = {s: answers.count(s) for s in set(answers)}
    print(f"{args.path}, {args.rounds} rounds of {args.requests} per stack: {statuses}")
    for name, values in seen.items():
        print(
            f"  {name}: median {statistics.median(values):.2f} ms CPU per signup "
            f"(rounds {min(values):.2f}-{max(values):.2f})"
        )
    ratios = [f / s for f, s in zip(seen["fast path"], seen["full stack"], strict=True)]
    print(
        f"  fast / full: median {statistics.median(ratios):.2f} "
        f"(rounds {min(ratios):.2f}-{max(ratios):.2f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

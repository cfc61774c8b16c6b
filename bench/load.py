"""The load generator: sandbox events made ahead, asyncio keep-alive clients, one result per run."""

from __future__ import annotations

import asyncio
import collections
import http.client
import json
import multiprocessing
import resource
import secrets
import statistics
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from stack import (
    SandboxControl,
    cpu_busy,
    free_port,
    postgres_pids,
    proc_cpu_each,
    proc_cpu_s,
    process_tree,
    uptime,
)

# The load generator's own loopback address, which the events carry (bulk-made with it): the
# server must see it, through nginx's X-Forwarded-For, for a human's signup to pass the IP
# check (127.0.0.1 would also be what nginx itself connects from).
CLIENT_IP = "127.0.0.2"
PASSWORD = "Lq7-vT9#mZp2wR4k"  # passes Django's validators; every account gets its own salt
PATHS = {
    # path: (sandbox profile, expected status, body marker of success)
    "dup": ("human", 403, b"signup_denied"),
    "bot": ("bad_bot", 403, b"signup_denied"),
    "accept": ("human", 201, b'"created"'),
}
CHUNK = 2000  # events per bulk call when topping up


# --- events --------------------------------------------------------------------------------


class EventFeed:
    """Signup bodies for one path, from sandbox events made ahead and topped up in a thread."""

    def __init__(
        self,
        sandbox_url: str,
        path: str,
        total: int | None,
        visitor_id: str = "",
        id_field: str = "event_id",
        chunk: int = CHUNK,
    ):
        self.control = SandboxControl(sandbox_url, timeout=120)
        self.id_field = id_field
        self.chunk = chunk  # events kept ahead: small keeps them fresh (RISK_MAX_EVENT_AGE_S)
        self.profile = PATHS[path][0]
        self.visitor_id = visitor_id
        self.remaining = total  # None: unlimited (duration runs)
        self.bodies: collections.deque[bytes] = collections.deque()
        self.run_id = secrets.token_hex(3)
        self.counter = 0
        self.stalls = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def _fill(self, count: int) -> None:
        fields: dict = {"ip": CLIENT_IP}
        if self.visitor_id:
            fields["visitor_id"] = self.visitor_id
        ids = self.control.bulk_events(count, profile=self.profile, **fields)
        for event_id in reversed(ids):  # bulk returns newest first; send oldest first
            self.counter += 1
            body = {self.id_field: event_id, "username": f"lb{self.run_id}x{self.counter}"}
            body["password"] = PASSWORD
            self.bodies.append(json.dumps(body, separators=(",", ":")).encode())

    def prefill(self, count: int) -> None:
        count = count if self.remaining is None else min(count, self.remaining)
        self._fill(count)
        if self.remaining is not None:
            self.remaining -= count
        if self.remaining is None or self.remaining > 0:
            self._thread = threading.Thread(target=self._top_up, daemon=True)
            self._thread.start()

    def _top_up(self) -> None:
        while not self._stop.is_set():
            if len(self.bodies) < self.chunk and (self.remaining is None or self.remaining > 0):
                count = self.chunk if self.remaining is None else min(self.chunk, self.remaining)
                self._fill(count)
                if self.remaining is not None:
                    self.remaining -= count
            elif self.remaining == 0:
                return
            self._wake.wait(0.05)
            self._wake.clear()

    def pop(self) -> bytes | None:
        try:
            body = self.bodies.popleft()
        except IndexError:
            return None
        if len(self.bodies) < self.chunk:
            self._wake.set()
        return body

    def exhausted(self) -> bool:
        return not self.bodies and self.remaining == 0

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        self.control.close()


# --- load generator ------------------------------------------------------------------------


@dataclass
class RunResult:
    path: str
    latency_ms: int
    concurrency: int
    requests: int = 0
    ok: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    statuses: dict = field(default_factory=dict)
    gen_cpu: float = 0.0  # share of one core the load generator used
    server_cpu_ms_per_req: float = 0.0
    proxy_cpu_ms_per_req: float = 0.0  # nginx in front of the server, when there is one
    sandbox_cpu_ms_per_req: float = 0.0
    postgres_cpu_ms_per_req: float = 0.0  # the server's PostgreSQL backends
    machine_busy: float = 0.0  # share of all cores busy (everything on the machine)
    feed_stalls: int = 0
    uptime: str = ""
    target: str = ""


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, close = 0, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    body = await reader.readexactly(length) if length else b""
    return status, body, close


async def fire(
    url: str,
    next_body,
    *,
    concurrency: int,
    duration: float | None,
    path: str = "/api/signup",
) -> tuple[list[float], collections.Counter, int, float, int]:
    """Send bodies from `next_body()` (None: wait, StopIteration: done) on keep-alive conns.

    Returns (latencies s, status counter, ok count, elapsed s, stalls)."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: "
    ).encode()
    latencies: list[float] = []
    statuses: collections.Counter = collections.Counter()
    ok = [0]
    stalls = [0]
    t_start = time.perf_counter()
    deadline = t_start + duration if duration else None

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port, local_addr=(CLIENT_IP, 0))
        try:
            while deadline is None or time.perf_counter() < deadline:
                try:
                    item = next_body()
                except StopIteration:
                    return
                if item is None:
                    stalls[0] += 1
                    await asyncio.sleep(0.002)
                    continue
                body, check = item
                t0 = time.perf_counter()
                writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
                status, answer, close = await _read_response(reader)
                latencies.append(time.perf_counter() - t0)
                statuses[status] += 1
                if check(status, answer):
                    ok[0] += 1
                if close:
                    writer.close()
                    reader, writer = await asyncio.open_connection(
                        host, port, local_addr=(CLIENT_IP, 0)
                    )
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, statuses, ok[0], time.perf_counter() - t_start, stalls[0]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


@dataclass
class Target:
    """A server under load: where signups go and what each path must answer (status, marker)."""

    name: str
    url: str
    endpoint: str = "/api/signup"
    id_field: str = "event_id"
    expect: dict = field(default_factory=lambda: {p: (s, m) for p, (_, s, m) in PATHS.items()})
    pids: dict = field(default_factory=dict)  # server, sandbox (pids), database_url
    dup_visitor: str = ""  # the device that already has its account (path `dup`)

    def feed(
        self, sandbox_url: str, path: str, total: int | None, *, chunk: int, prefill: int
    ) -> EventFeed:
        """Fresh events for `path` (`dup`: all from the device that has its account)."""
        feed = EventFeed(
            sandbox_url,
            path,
            total,
            visitor_id=self.dup_visitor if path == "dup" else "",
            id_field=self.id_field,
            chunk=chunk,
        )
        feed.prefill(min(total or 10**9, prefill))
        return feed

    def bodies(self, feed: EventFeed, path: str, stop=None):
        """`fire`'s body source: the feed's bodies with the check of `path`'s answer, until
        the feed is exhausted (or `stop()` says so)."""
        expected, marker = self.expect[path]

        def check(status: int, body: bytes) -> bool:
            return status == expected and marker in body

        def next_body():
            if stop is not None and stop():
                raise StopIteration
            body = feed.pop()
            if body is None:
                if feed.exhausted():
                    raise StopIteration
                return None
            return body, check

        return next_body


def run_path(
    target: Target,
    sandbox_url: str,
    path: str,
    latency_ms: int,
    *,
    concurrency: int,
    requests: int | None = None,
    duration: float | None = None,
    chunk: int = CHUNK,
    prefill: int | None = None,
) -> RunResult:
    """`requests` signups on `path` (or for `duration` s); with both, whichever ends first.
    `prefill` events are made before the clock starts, the rest `chunk` at a time during
    the run."""
    if prefill is None:
        prefill = max(chunk * 2, concurrency * 4)
    feed = target.feed(sandbox_url, path, requests, chunk=chunk, prefill=prefill)
    try:
        return _measured(
            target,
            target.bodies(feed, path),
            path,
            latency_ms,
            concurrency,
            duration,
            target.endpoint,
        )
    finally:
        feed.close()


def _measured(
    target: Target, next_body, name: str, latency_ms: int, concurrency: int, duration, url_path
) -> RunResult:
    """Fire `next_body`'s requests at `url_path` of `target`, with the CPU of everything
    measured around them."""
    probe = Probe(target.pids)
    latencies, statuses, ok, elapsed, stalls = asyncio.run(
        fire(target.url, next_body, concurrency=concurrency, duration=duration, path=url_path)
    )
    return probe.result(
        name, latency_ms, concurrency, latencies, statuses, ok, elapsed, stalls, target.name
    )


class Probe:
    """CPU of the generator, the server, its proxy, the sandbox and PostgreSQL between start
    and result()."""

    def __init__(self, pids: dict) -> None:
        self.server = process_tree(pids["server"]) if pids.get("server") else []
        self.proxy = process_tree(pids["proxy"]) if pids.get("proxy") else []
        self.proxy0 = proc_cpu_s(self.proxy)
        self.sandbox = process_tree(pids["sandbox"]) if pids.get("sandbox") else []
        self.database_url = pids.get("database_url")
        self.cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        self.srv0, self.sbx0 = proc_cpu_s(self.server), proc_cpu_s(self.sandbox)
        self.busy0 = cpu_busy()
        self.pg0 = proc_cpu_each(postgres_pids(self.database_url)) if self.database_url else {}

    def result(
        self, path, latency_ms, concurrency, latencies, statuses, ok, elapsed, stalls, target=""
    ) -> RunResult:
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        busy1 = cpu_busy()
        # Backends opened during the run (CONN_MAX_AGE renews connections) count in full; CPU
        # of the ones that closed during the run is lost, so this is a slight underestimate.
        pg1 = proc_cpu_each(postgres_pids(self.database_url)) if self.database_url else {}
        pg_cpu = sum(cpu - self.pg0.get(pid, 0.0) for pid, cpu in pg1.items())
        n = len(latencies)
        cpu0 = self.cpu0
        gen_cpu = (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) / elapsed
        busy0 = self.busy0
        return RunResult(
            target=target,
            path=path,
            latency_ms=latency_ms,
            concurrency=concurrency,
            requests=n,
            ok=ok,
            seconds=round(elapsed, 2),
            rps=round(ok / elapsed, 1),
            p50_ms=round(percentile(latencies, 50) * 1000, 1),
            p99_ms=round(percentile(latencies, 99) * 1000, 1),
            max_ms=round(max(latencies, default=0) * 1000, 1),
            statuses={str(k): v for k, v in sorted(statuses.items())},
            gen_cpu=round(gen_cpu, 2),
            server_cpu_ms_per_req=round((proc_cpu_s(self.server) - self.srv0) * 1000 / n, 2)
            if n
            else 0,
            proxy_cpu_ms_per_req=round((proc_cpu_s(self.proxy) - self.proxy0) * 1000 / n, 2)
            if n
            else 0,
            sandbox_cpu_ms_per_req=round((proc_cpu_s(self.sandbox) - self.sbx0) * 1000 / n, 2)
            if n
            else 0,
            postgres_cpu_ms_per_req=round(pg_cpu * 1000 / n, 2) if n else 0,
            machine_busy=round((busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1), 2),
            feed_stalls=stalls,
            uptime=uptime(),
        )


def first_account(target: Target, sandbox_url: str, **event_fields) -> dict:
    """Sign a new human up on `target`; returns its sandbox event (the device has an account)."""
    control = SandboxControl(sandbox_url)
    event = control.create_event("human", ip=CLIENT_IP, **event_fields)
    control.close()
    body = json.dumps(
        {
            target.id_field: event["event_id"],
            "username": f"lbdup{secrets.token_hex(4)}",
            "password": PASSWORD,
        }
    ).encode()
    parts = urlsplit(target.url)
    conn = http.client.HTTPConnection(
        parts.hostname, parts.port or 80, timeout=30, source_address=(CLIENT_IP, 0)
    )
    try:
        conn.request(
            "POST", target.endpoint, body=body, headers={"Content-Type": "application/json"}
        )
        response = conn.getresponse()
        answer = response.read()
    finally:
        conn.close()
    status, marker = target.expect["accept"]
    if response.status != status or marker not in answer:
        raise SystemExit(f"{target.name}: could not create a first account: {answer[:200]!r}")
    return event


def seed_duplicate_device(target: Target, sandbox_url: str) -> str:
    """A device that already has its account: the `dup` path signs it up again."""
    return first_account(target, sandbox_url)["identification"]["visitor_id"]


# --- generator ceiling ------------------------------------------------------------------------


def _trivial_server(port: int, ready) -> None:
    """A minimal keep-alive HTTP server (one core): answers every request with 200 `{}`."""

    class Proto(asyncio.Protocol):
        def connection_made(self, transport):
            self.transport, self.buffer = transport, b""

        def data_received(self, data):
            self.buffer += data
            while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
                head = self.buffer[:end].lower()
                i = head.find(b"content-length:")
                length = int(head[i + 15 :].split(b"\r\n", 1)[0]) if i >= 0 else 0
                if len(self.buffer) < end + 4 + length:
                    return
                self.buffer = self.buffer[end + 4 + length :]
                self.transport.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 2\r\n\r\n{}"
                )

    async def main():
        server = await asyncio.get_running_loop().create_server(Proto, "127.0.0.1", port)
        ready.set()
        await server.serve_forever()

    asyncio.run(main())


def generator_ceiling(concurrency: int, seconds: float = 3.0) -> dict:
    port = free_port()
    ready = multiprocessing.Event()
    proc = multiprocessing.Process(target=_trivial_server, args=(port, ready), daemon=True)
    proc.start()
    ready.wait(10)
    body = json.dumps(
        {"event_id": "1700000000000.abcdef", "username": "x" * 20, "password": PASSWORD}
    )
    item = (body.encode(), lambda status, _: status == 200)
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    latencies, _, ok, elapsed, _ = asyncio.run(
        fire(f"http://127.0.0.1:{port}", lambda: item, concurrency=concurrency, duration=seconds)
    )
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    proc.terminate()
    proc.join()
    cpu = cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime
    return {
        "rps": round(ok / elapsed, 1),
        "cpu_us_per_req": round(cpu * 1e6 / max(ok, 1), 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "concurrency": concurrency,
    }

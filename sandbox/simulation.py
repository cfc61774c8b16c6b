"""Demo traffic: a realistic population signing up through the real API, backed by the sandbox.

Each *actor* is one device: an ordinary person, a family sharing a laptop, a device farm, a bot...
For every signup the actor first has the sandbox create a Fingerprint event (what the agent would
do in the browser), then posts the credentials with that event id to `POST /api/signup` over
HTTP, exactly as the signup page does. Actors run concurrently in a thread pool; one actor's
signups run in order, as they would on one device.

Events carry the IP address the API will see as the client (the local address of a connection
to the API), so the product's IP check passes unless a scenario wants a mismatch.
"""

from __future__ import annotations

import contextlib
import random
import secrets
import socket
import string
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from tqdm import tqdm

from .control import SandboxControl, SandboxControlError


@dataclass(frozen=True)
class Kind:
    """One class of the population: who signs up, from what device and network."""

    description: str
    profile: str  # sandbox device profile
    legit: bool = True  # a real person's signup (else fraud)
    group: tuple[int, int] = (1, 1)  # signups per actor (min, max)
    # home: one residential IP per actor; office: one business IP per actor; carrier: one
    # carrier-NAT IP shared by every actor of the kind; hosting: one datacenter IP per actor;
    # rotating_proxy: a fresh residential proxy IP (flagged by Fingerprint) per signup;
    # shared_proxy: one residential IP per actor, whatever devices it rotates through;
    # campus: one university address shared by every actor of the kind; lab: an address of
    # the allowlisted QA lab's range (LAB_NETWORK)
    network: str = "home"
    history_days: float = 0  # the device visited the site this long before signing up
    established_share: float = 1.0  # share of actors with that history (others: brand-new)
    rotate_device: bool = False  # a fresh visitor id for every signup (anti-detect rotation)
    overrides: dict[str, Any] = field(default_factory=dict)  # extra event fields
    client_ip: bool = True  # event IP = the API's client IP (False: an IP mismatch)
    age_s: float = 0  # event age when it is used
    replayed: bool = False
    forged: bool = False  # a made-up event id that Fingerprint never issued
    stolen: bool = False  # an event id its owner already used to sign up
    drn_history: bool = False  # DRN has known the phone for months
    disposable_email: bool = False  # signs up with a throwaway mailbox
    bench: bool = True  # part of the labelled population of bench/decision_quality.py


PROXY_FLAG = {"proxy": True, "proxy_confidence": "high"}

KINDS: dict[str, Kind] = {
    # --- legitimate -----------------------------------------------------------------------
    "ordinary": Kind("a person on their own browser", "human", history_days=30,
                     established_share=0.5),
    "android_user": Kind("an Android app user (new install; DRN knows the phone)", "android",
                         history_days=20, established_share=0.3, drn_history=True),
    "family": Kind("a family sharing one laptop", "human", group=(2, 4), history_days=90,
                   established_share=0.8),
    "office": Kind("a shared office or library PC", "human", group=(3, 8), network="office",
                   history_days=180),
    "vpn": Kind("a person behind a VPN", "vpn", network="hosting", history_days=30,
                established_share=0.5),
    "privacy": Kind("a privacy browser (incognito, strict privacy settings)", "incognito",
                    overrides={"privacy_settings": True}, history_days=10,
                    established_share=0.3),
    "carrier_nat": Kind("phones behind one carrier-grade NAT address", "android",
                        network="carrier", history_days=60, established_share=0.3,
                        drn_history=True),
    "tor": Kind("a Tor Browser user", "tor", network="hosting"),
    "campus": Kind("students behind one campus address within the hour (one in five on a "
                   "brand-new browser)", "human", network="campus", history_days=60,
                   established_share=0.8),
    "qa_lab": Kind("an allowlisted QA lab: testers opening many accounts on a few machines",
                   "human", group=(8, 14), network="lab", history_days=120),
    # --- fraudulent -----------------------------------------------------------------------
    "bad_bot": Kind("a headless browser script", "bad_bot", legit=False, network="hosting"),
    "proxy_farm": Kind("one device opening accounts through rotating proxies", "human",
                       legit=False, group=(5, 12), network="rotating_proxy",
                       overrides=PROXY_FLAG),
    "antidetect": Kind("an anti-detect browser rotating identities", "tampering", legit=False,
                       group=(5, 12), network="shared_proxy", rotate_device=True),
    "device_rotation": Kind("fresh browser profiles rotated behind one home IP (undetected)",
                            "human", legit=False, group=(6, 10), network="shared_proxy",
                            rotate_device=True),
    "emulator_farm": Kind("rooted emulators in a device farm", "farm", legit=False,
                          group=(4, 12), network="hosting", rotate_device=True),
    "scripted_vm": Kind("scripted virtual machines with developer tools", "human", legit=False,
                        group=(3, 8), network="hosting", rotate_device=True,
                        overrides={"virtual_machine": True, "developer_tools": True}),
    "replayed": Kind("an identification Fingerprint saw replayed", "human", legit=False,
                     replayed=True),
    "stale": Kind("a replay of a ten-minute-old event", "human", legit=False, age_s=600),
    "stolen": Kind("someone else's event id, already used", "human", legit=False, stolen=True),
    "forged": Kind("a made-up event id", "human", legit=False, forged=True),
    "trial_abuse": Kind("free-trial abuse: a fresh clean browser per account, throwaway "
                        "mailboxes", "human", legit=False, group=(2, 6), network="shared_proxy",
                        rotate_device=True, disposable_email=True),
    # --- demo only: awkward cases a reviewer should see --------------------------------------
    "good_bot": Kind("a search crawler that hit the form", "good_bot", legit=False,
                     network="hosting", bench=False),
    "ip_mismatch": Kind("an event made on another network", "human", client_ip=False,
                        bench=False),
}  # fmt: skip
# Share of signups (not devices) per kind: the demo's default and the benchmark's population.
DEFAULT_MIX: dict[str, float] = {
    "ordinary": 30,
    "android_user": 8,
    "family": 8,
    "office": 5,
    "vpn": 5,
    "privacy": 4,
    "carrier_nat": 5,
    "tor": 1,
    "campus": 2.5,
    "qa_lab": 2,
    "bad_bot": 8,
    "proxy_farm": 5,
    "antidetect": 4,
    "device_rotation": 1,
    "emulator_farm": 4,
    "scripted_vm": 3,
    "replayed": 1,
    "stale": 1,
    "stolen": 1,
    "forged": 1,
    "trial_abuse": 3,
    "good_bot": 1,
    "ip_mismatch": 1,
}
# HTTP answer -> outcome label
OUTCOMES = ("created", "pending_review", "denied", "invalid", "unavailable", "throttled", "error")

FIRST = ("alice", "bruno", "chen", "dana", "emil", "fatima", "grace", "hugo", "ines", "jonas",
         "kemal", "lena", "maya", "nils", "olga", "pedro", "quinn", "rosa", "sven", "tariq",
         "uma", "viktor", "wen", "yusuf", "zoe")  # fmt: skip
LAST = ("garcia", "smith", "muller", "dubois", "silva", "kumar", "rossi", "novak", "kim",
        "jensen", "haddad", "okafor", "tanaka", "berg", "costa")  # fmt: skip


class SimulationError(ValueError):
    """Bad options or an unreachable server; the command turns it into a CommandError."""


def parse_mix(text: str) -> dict[str, float]:
    """`"ordinary=60,bad_bot=20,farm=20"` -> weights. Kinds left out get no signups."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in KINDS:
            raise SimulationError(
                f"bad mix entry {part!r}: use kind=weight with kinds {', '.join(KINDS)}"
            )
        try:
            weight = float(value)
        except ValueError:
            raise SimulationError(f"weight of {name} is not a number: {value!r}") from None
        if weight < 0:
            raise SimulationError(f"weight of {name} is negative")
        mix[name] = weight
    if not mix or sum(mix.values()) <= 0:
        raise SimulationError("the mix needs at least one kind with a positive weight")
    return mix


def allocate(users: int, mix: dict[str, float]) -> dict[str, int]:
    """Split `users` signups by weight (largest remainder); when there are enough signups,
    every kind with a positive weight gets at least one."""
    kinds = [name for name, weight in mix.items() if weight > 0]
    total = sum(mix[name] for name in kinds)
    exact = {name: users * mix[name] / total for name in kinds}
    counts = {name: int(exact[name]) for name in kinds}
    short = users - sum(counts.values())
    for name in sorted(kinds, key=lambda n: exact[n] - counts[n], reverse=True)[:short]:
        counts[name] += 1
    if users >= len(kinds):
        for name in kinds:
            if counts[name] == 0:
                counts[max(counts, key=counts.__getitem__)] -= 1
                counts[name] = 1
    return counts


@dataclass
class Signup:
    username: str
    email: str
    password: str
    visitor_id: str  # the device this signup comes from
    ip: str  # the client IP (forwarded mode), also the event's IP unless a mismatch is wanted


@dataclass
class Actor:
    kind: str
    visitor_id: str
    signups: list[Signup]
    established: bool  # the device visited the site before (history seeded)


# Address blocks per network kind (the sandbox geolocates them: residential ISPs, hosting).
RESIDENTIAL = ("73.45", "81.98", "91.64", "90.84", "177.32")
CARRIER_IP = "49.36.200.17"  # one mobile carrier's NAT address (Jio, India)
CAMPUS_IP = "81.98.120.5"  # one university's address (behind its NAT)
LAB_NETWORK = "90.84.77.0/24"  # the QA lab's range: the demo and the bench allowlist it
# Throwaway-mailbox domains, all on the disposable-email-domains list.
THROWAWAY_DOMAINS = ("mailinator.com", "guerrillamail.com", "10minutemail.com", "yopmail.com")
HOSTING = ("178.62", "3.80")  # DigitalOcean, AWS: datacenters


def _address(rng: random.Random, prefixes: tuple[str, ...]) -> str:
    return f"{rng.choice(prefixes)}.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}"


def plan_population(
    users: int, mix: dict[str, float], *, seed: int | None, run_tag: str
) -> list[Actor]:
    """The devices, their networks and the signups each will attempt; deterministic for a seed
    and tag. `run_tag` (4 alphanumerics) ends every username and visitor id, so runs never
    collide."""
    rng = random.Random(seed)
    actors: list[Actor] = []
    serial = 0

    def visitor() -> str:
        # The run tag keeps devices new on every run, seeded or not (20 alphanumerics).
        return "".join(rng.choices(string.ascii_letters + string.digits, k=16)) + run_tag

    for kind_name, count in allocate(users, mix).items():
        kind = KINDS[kind_name]
        while count > 0:
            size = min(count, rng.randint(*kind.group))
            count -= size
            device = visitor()
            actor_ip = {
                "office": lambda: _address(rng, RESIDENTIAL[2:4]),
                "carrier": lambda: CARRIER_IP,
                "campus": lambda: CAMPUS_IP,
                "lab": lambda: f"{LAB_NETWORK.rsplit('.', 1)[0]}.{rng.randrange(1, 255)}",
                "hosting": lambda: _address(rng, HOSTING),
            }.get(kind.network, lambda: _address(rng, RESIDENTIAL))()
            signups = []
            for _ in range(size):
                serial += 1
                ip = _address(rng, RESIDENTIAL) if kind.network == "rotating_proxy" else actor_ip
                who = visitor() if kind.rotate_device else device
                signups.append(_credentials(rng, kind_name, serial, run_tag, who, ip))
            established = kind.history_days > 0 and rng.random() < kind.established_share
            actors.append(Actor(kind_name, device, signups, established))
    rng.shuffle(actors)  # interleave kinds, as real traffic is
    return actors


def _credentials(
    rng: random.Random, kind: str, serial: int, run_tag: str, visitor_id: str, ip: str
) -> Signup:
    if KINDS[kind].disposable_email:
        username = f"trial{rng.randrange(10**6):06d}_{run_tag}{serial}"
        domain = rng.choice(THROWAWAY_DOMAINS)
    elif not KINDS[kind].legit:
        username = f"user{rng.randrange(10**6):06d}_{run_tag}{serial}"
        domain = "mailbox.example.net"
    else:
        username = f"{rng.choice(FIRST)}.{rng.choice(LAST)}_{run_tag}{serial}"
        domain = "example.com"
    # Passwords are random (never logged or printed): they must pass Django's validators.
    return Signup(username, f"{username}@{domain}", secrets.token_urlsafe(12), visitor_id, ip)


def detect_client_ip(api_url: str, timeout: float = 3.0) -> str:
    """The address the API sees us connect from (no proxy in between)."""
    parts = urlsplit(api_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "localhost", port), timeout) as sock:
            return str(sock.getsockname()[0])
    except OSError as exc:
        raise SimulationError(f"cannot reach the API at {api_url}: {exc}") from exc


@dataclass
class Attempt:
    kind: str
    username: str
    status: int | None
    outcome: str
    reference: str | None = None  # the API's opaque reference of the attempt
    event_id: str = ""
    victim: bool = False  # the owner's own signup before a stolen-event replay (not counted)


@dataclass
class SimulationReport:
    users: int
    actors: int
    elapsed_s: float
    client_ip: str
    run_tag: str
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def counted(self) -> list[Attempt]:
        return [a for a in self.attempts if not a.victim]

    def by_kind(self) -> dict[str, Counter[str]]:
        table: dict[str, Counter[str]] = {}
        for attempt in self.counted:
            table.setdefault(attempt.kind, Counter())[attempt.outcome] += 1
        return table

    @property
    def references(self) -> list[str]:
        return [a.reference for a in self.counted if a.reference is not None]


class _Runner:
    def __init__(
        self, *, api_url: str, sandbox_url: str, client_ip: str, forwarded: bool, timeout: float
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.sandbox_url = sandbox_url.rstrip("/")
        self.client_ip = client_ip
        self.forwarded = forwarded  # send each actor's own IP in X-Forwarded-For
        self.timeout = timeout
        self._local = threading.local()  # one keep-alive session pair per worker thread

    def _clients(self) -> tuple[SandboxControl, requests.Session]:
        if not hasattr(self._local, "control"):
            self._local.control = SandboxControl(self.sandbox_url, timeout=self.timeout)
            self._local.http = requests.Session()
        return self._local.control, self._local.http

    def run_actor(self, actor: Actor, on_attempt: Callable[[Attempt], None]) -> None:
        kind = KINDS[actor.kind]
        control, http = self._clients()
        if actor.established:
            self._seed_history(control, kind, actor)
        if kind.drn_history:
            self._seed_drn(control, actor)
        for signup in actor.signups:
            if kind.stolen:  # the owner signs up first; the thief replays the id later
                owner = Signup(f"owner_{signup.username}", "", signup.password,
                               signup.visitor_id, signup.ip)  # fmt: skip
                attempt = self._sign_up(control, http, kind, actor, owner, victim=True)
                on_attempt(attempt)
                elsewhere = _address(random.Random(signup.username), RESIDENTIAL)
                thief = Signup(signup.username, signup.email, signup.password, "", elsewhere)
                on_attempt(self._post(http, actor.kind, thief, attempt.event_id))
                continue
            on_attempt(self._sign_up(control, http, kind, actor, signup))

    def _seed_history(self, control: SandboxControl, kind: Kind, actor: Actor) -> None:
        """Earlier visits of this device to the site, days before the signup."""
        # On failure the signup below still runs; it just has no history.
        with contextlib.suppress(SandboxControlError, requests.RequestException):
            control.bulk_events(
                4,
                profile=kind.profile,
                visitor_id=actor.visitor_id,
                spread_s=kind.history_days * 86_400 / 2,
                age_s=kind.history_days * 86_400 / 2,
            )

    def _seed_drn(self, control: SandboxControl, actor: Actor) -> None:
        """The Device Reputation Network has known this phone for months."""
        first_seen = datetime.now(UTC) - timedelta(days=180)
        with contextlib.suppress(SandboxControlError, requests.RequestException):
            control.seed_drn(
                actor.visitor_id, first_seen_at=first_seen.strftime("%Y-%m-%dT%H:%M:00Z")
            )

    def _sign_up(
        self,
        control: SandboxControl,
        http: requests.Session,
        kind: Kind,
        actor: Actor,
        signup: Signup,
        victim: bool = False,
    ) -> Attempt:
        if kind.forged:
            event_id = f"{int(time.time() * 1000)}.{secrets.token_hex(3)}"
        else:
            ip = signup.ip if self.forwarded else self.client_ip
            fields: dict[str, Any] = {
                "visitor_id": signup.visitor_id,
                "url": f"{self.api_url}/signup",
                "linked_id": signup.username,
                "tags": {"action": "signup", "simulated": actor.kind},
                "ip": ip if kind.client_ip else _address(random.Random(ip), RESIDENTIAL),
            }
            if kind.overrides:
                fields["overrides"] = kind.overrides
            if kind.age_s:
                fields["age_s"] = kind.age_s
            if kind.replayed:
                fields["replayed"] = True
            try:
                event_id = control.create_event(kind.profile, **fields)["event_id"]
            except (SandboxControlError, requests.RequestException):
                return Attempt(actor.kind, signup.username, None, "error", victim=victim)
        return self._post(http, actor.kind, signup, event_id, victim=victim)

    def _post(
        self, http: requests.Session, kind: str, signup: Signup, event_id: str, victim=False
    ) -> Attempt:
        headers = {"Origin": self.api_url}
        if self.forwarded:
            headers["X-Forwarded-For"] = signup.ip
        try:
            response = http.post(
                f"{self.api_url}/api/signup",
                json={
                    "event_id": event_id,
                    "username": signup.username,
                    "email": signup.email,
                    "password": signup.password,
                },
                headers=headers,
                timeout=self.timeout,
            )
        except requests.RequestException:
            return Attempt(kind, signup.username, None, "error", None, event_id, victim)
        try:
            body = response.json()
        except ValueError:
            body = {}
        reference = body.get("reference") if isinstance(body, dict) else None
        outcome = _outcome(response.status_code, body)
        return Attempt(
            kind,
            signup.username,
            response.status_code,
            outcome,
            reference if isinstance(reference, str) else None,
            event_id,
            victim,
        )


def _outcome(status: int, body: Any) -> str:
    if status == 201:
        return "created" if body.get("status") == "created" else "pending_review"
    return {403: "denied", 400: "invalid", 503: "unavailable", 429: "throttled"}.get(
        status, "error"
    )


def _check_sandbox(sandbox_url: str) -> None:
    try:
        requests.get(f"{sandbox_url.rstrip('/')}/healthz", timeout=3).raise_for_status()
    except requests.RequestException as exc:
        raise SimulationError(f"cannot reach the sandbox at {sandbox_url}: {exc}") from exc


def signups_simulate(
    *,
    api_url: str,
    sandbox_url: str,
    users: int,
    mix: dict[str, float] | None = None,
    seed: int | None = None,
    workers: int = 8,
    client_ip: str | None = None,
    forwarded: bool = False,
    timeout: float = 30.0,
    progress: bool = True,
) -> SimulationReport:
    """Run `users` signups of a mixed population against the API; raises SimulationError on
    bad options or when the API or the sandbox cannot be reached.

    `forwarded`: each actor sends its own network's address in X-Forwarded-For (the API must
    trust one proxy: RISK_TRUSTED_PROXY_COUNT=1), so homes, offices, carrier NAT, datacenters
    and rotating proxies look as they would in production. Otherwise every signup comes from
    this machine's address."""
    if users < 1:
        raise SimulationError("users must be at least 1")
    if workers < 1:
        raise SimulationError("workers must be at least 1")
    for name, url in (("api", api_url), ("sandbox", sandbox_url)):
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise SimulationError(f"--{name} must be an http(s) URL, got {url!r}")
    mix = mix or DEFAULT_MIX
    _check_sandbox(sandbox_url)
    client_ip = client_ip or detect_client_ip(api_url)
    run_tag = secrets.token_hex(2)
    actors = plan_population(users, mix, seed=seed, run_tag=run_tag)
    report = SimulationReport(users, len(actors), 0.0, client_ip, run_tag)
    runner = _Runner(
        api_url=api_url,
        sandbox_url=sandbox_url,
        client_ip=client_ip,
        forwarded=forwarded,
        timeout=timeout,
    )
    lock = threading.Lock()
    started = time.monotonic()
    with tqdm(total=users, unit="signup", disable=not progress, dynamic_ncols=True) as bar:

        def record(attempt: Attempt) -> None:
            with lock:
                report.attempts.append(attempt)
                if not attempt.victim:
                    bar.update(1)

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="simulate") as pool:
            # list() re-raises any bug in a worker instead of losing it
            list(pool.map(lambda actor: runner.run_actor(actor, record), actors))
    report.elapsed_s = time.monotonic() - started
    return report


def attempts_by_reason(references: list[str]) -> dict[str, Counter[str]] | None:
    """decision -> "reason, reason" (all that fired on an attempt) -> count, read from the
    database for the attempts the API reported. None when this database does not hold them
    (the API writes to another one)."""
    from risk.models import SignupAttempt  # the sandbox itself never needs Django models

    table: dict[str, Counter[str]] = {}
    found = 0
    for start in range(0, len(references), 500):
        chunk = references[start : start + 500]
        rows = SignupAttempt.objects.filter(reference__in=chunk).values_list("decision", "reasons")
        for decision, reasons in rows:
            found += 1
            table.setdefault(decision, Counter())[", ".join(reasons or []) or "-"] += 1
    return table if found else None


def format_report(report: SimulationReport, reasons: dict[str, Counter[str]] | None) -> str:
    """The final summary: outcomes per kind (HTTP answers), then decisions and reasons."""
    lines = [
        f"{report.users} signups from {report.actors} devices in {report.elapsed_s:.1f}s "
        f"({report.users / max(report.elapsed_s, 1e-9):.0f}/s); client IP {report.client_ip}; "
        f"usernames end in _{report.run_tag}<n>",
        "",
    ]
    table = report.by_kind()
    columns = [o for o in OUTCOMES if any(c[o] for c in table.values())]
    width = max(len(k) for k in [*table, "kind"]) + 2
    lines.append("kind".ljust(width) + "".join(c.rjust(16) for c in columns))
    for kind in KINDS:
        if kind in table:
            row = kind.ljust(width) + "".join(str(table[kind][c]).rjust(16) for c in columns)
            lines.append(row)
    total = Counter[str]()
    for counter in table.values():
        total.update(counter)
    lines.append("total".ljust(width) + "".join(str(total[c]).rjust(16) for c in columns))
    lines.append("")
    if reasons is None:
        lines.append("(decisions by reason: the API writes to another database)")
        return "\n".join(lines)
    width = max([len(r) for counter in reasons.values() for r in counter] + [7]) + 2
    lines.append(f"{'decision':<10}{'reasons':<{width}}{'attempts':>8}")
    for decision in ("allow", "review", "deny"):
        for reason, count in sorted(reasons.get(decision, {}).items(), key=lambda kv: -kv[1]):
            lines.append(f"{decision:<10}{reason:<{width}}{count:>8}")
    return "\n".join(lines)

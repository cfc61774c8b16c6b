"""The sandbox's dispatch: routes, injected faults, the 400 mapping, keys and request stats.
The endpoints live in sandbox/api/, one module per API (v4, v3, drn, agent, control)."""

from __future__ import annotations

import hmac
import threading
import time
from collections import Counter, defaultdict
from typing import Any

from . import drn, sealed
from .api import agent, control, v3, v4
from .api import drn as drn_api
from .api.common import BadRequestError
from .routing import Request, Response, Router, error, fault_error, json_response
from .store import Store

CORS_HEADERS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
    ("Access-Control-Allow-Headers", "Content-Type"),
    ("Access-Control-Max-Age", "600"),
]


class SandboxApp:
    def __init__(
        self,
        store: Store,
        *,
        secret_keys: tuple[str, ...] = ("sandbox-secret-key",),
        public_key: str = "sandbox-public-key",
        trust_xff: bool = False,
        sealed_key: bytes | str | None = None,
    ) -> None:
        self.store = store
        self.secret_keys = tuple(secret_keys)
        self.public_key = public_key
        self.trust_xff = trust_xff
        self.sealed_key = sealed.decode_key(sealed_key) if sealed_key else None
        self.buckets = drn.TokenBucket()
        self.load_rate()
        self._stats_lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._statuses: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._faults_applied: Counter[str] = Counter()
        self.router = Router()
        for api in (v4, v3, drn_api, agent, control):
            api.register(self.router, self)
        self.router.add(
            "GET", "/healthz", lambda req: json_response(200, {"status": "ok"}), "healthz"
        )

    # --- dispatch ------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        if req.method == "OPTIONS":  # CORS preflight for the agent endpoints
            return Response(204, b"", "text/plain", list(CORS_HEADERS))
        route, params, exists = self.router.match(req.method, req.path)
        if route is None:
            name = "unknown"
            response = (
                error(405, "method_not_allowed", f"{req.method} is not allowed here")
                if exists
                else error(404, "not_found", f"no route for {req.path}")
            )
        else:
            name = route.name
            req.params = params
            response = self._run(route.target, route.flavour, route.handler, req, name)
            if route.cors:
                response.headers.extend(CORS_HEADERS)
        with self._stats_lock:
            self._requests[name] += 1
            self._statuses[name][str(response.status)] += 1
        return response

    def _run(
        self, target: str | None, flavour: str, handler: Any, req: Request, name: str
    ) -> Response:
        if target is not None:
            fault = self.store.take_fault(target)
            if fault is not None:
                with self._stats_lock:
                    self._faults_applied[name] += 1
                if fault.latency_ms:
                    time.sleep(fault.latency_ms / 1000)
                if fault.status:
                    return fault_error(fault.status, flavour)
        try:
            return handler(req)
        except BadRequestError as exc:
            if flavour == "v3":
                return error(400, "RequestCannotBeParsed", str(exc))
            return error(400, "request_cannot_be_parsed", str(exc))

    # --- what the APIs share ---------------------------------------------------------------

    def known_secret(self, key: str) -> bool:
        return any(hmac.compare_digest(key, known) for known in self.secret_keys)

    def bearer(self, req: Request) -> str | None:
        value = req.header("authorization") or ""
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def load_rate(self) -> None:
        """DRN's rate limit: the control API's setting, else the default."""
        self.drn_rps = float(self.store.get_setting("drn_rps") or drn.DEFAULT_RPS)
        self.drn_burst = int(self.store.get_setting("drn_burst") or drn.DEFAULT_BURST)

    def stats(self) -> dict:
        with self._stats_lock:
            return {
                "requests": dict(self._requests),
                "statuses": {name: dict(counts) for name, counts in self._statuses.items()},
                "faults_applied": dict(self._faults_applied),
                "total": sum(self._requests.values()),
            }

    def stats_clear(self) -> None:
        with self._stats_lock:
            self._requests.clear()
            self._statuses.clear()
            self._faults_applied.clear()

"""The sandbox's dispatch: routes, injected faults, the 400 mapping, keys and request stats.
The endpoints live in sandbox/api/, one module per API (v4, v3, drn, agent, control)."""

from __future__ import annotations

import time
from typing import Any

from .api import agent, control, v3, v4
from .api import drn as drn_api
from .api.common import BadRequestError
from .routing import Request, Response, Router, error, fault_error, json_response
from .state import SandboxState
from .store import Store

CORS_HEADERS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
    ("Access-Control-Allow-Headers", "Content-Type"),
    ("Access-Control-Max-Age", "600"),
]


class SandboxApp(SandboxState):
    """The dispatch: every API's routes on one router (sandbox/api/, one module per API)."""

    def __init__(self, store: Store, **options: Any) -> None:
        super().__init__(store, **options)
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
        self.count(name, response.status)
        return response

    def _run(
        self, target: str | None, flavour: str, handler: Any, req: Request, name: str
    ) -> Response:
        if target is not None:
            fault = self.store.take_fault(target)
            if fault is not None:
                self.count(name, 0, fault=True)
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

"""Transport-independent request/response types, error bodies and a tiny router."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

JSON = "application/json"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    client_ip: str = ""
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The parsed body; raises ValueError when it is not JSON."""
        if not self.body.strip():
            return {}
        return json.loads(self.body)


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(
    status: int, payload: Any, headers: list[tuple[str, str]] | None = None
) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, JSON, headers or [])


def error(status: int, code: str, message: str) -> Response:
    """Fingerprint's error body (v4, v3 and DRN all use this envelope)."""
    return json_response(status, {"error": {"code": code, "message": message}})


# status -> (v4/DRN code, v3 code, message) for injected faults
FAULT_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("request_cannot_be_parsed", "RequestCannotBeParsed", "request cannot be parsed"),
    403: ("secret_api_key_not_found", "TokenNotFound", "secret key is not found"),
    404: ("event_not_found", "RequestNotFound", "request id not found"),
    409: ("state_not_ready", "Failed", "event is not ready yet, retry later"),
    413: ("payload_too_large", "Failed", "request body is too large"),
    429: ("too_many_requests", "TooManyRequests", "too many requests"),
    500: ("failed", "Failed", "internal server error"),
    503: ("service_unavailable", "Failed", "service unavailable"),
    504: ("request_read_timeout", "Failed", "request read timeout"),
}


def fault_error(status: int, flavour: str) -> Response:
    """An injected error with the body the real API family would send."""
    v4_code, v3_code, message = FAULT_ERRORS.get(status, ("failed", "Failed", "injected failure"))
    if flavour == "drn" and status == 404:
        v4_code = "http.not_found"
    response = error(status, v3_code if flavour == "v3" else v4_code, message)
    if flavour == "v3" and status == 429:
        response.headers.append(("Retry-After", "1"))  # v3 sent it; v4 does not
    return response


Handler = Callable[[Request], Response]


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    name: str  # stats key
    target: str | None = None  # fault target: events | drn | None (never faulted)
    flavour: str = "v4"  # error flavour for injected faults: v4 | v3 | drn
    cors: bool = False


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, path: str, handler: Handler, name: str, **options: Any) -> None:
        """path: literal with `{name}` placeholders matching one path segment."""
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
        self.routes.append(Route(method, re.compile(f"^{regex}$"), handler, name, **options))

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, params, path_exists); path_exists tells 405 from 404."""
        exists = False
        for route in self.routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            exists = True
            if route.method == method:
                return route, found.groupdict(), True
        return None, {}, exists

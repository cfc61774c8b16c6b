"""The web container's health check: `python deploy/healthcheck.py http://127.0.0.1:8000/healthz`.

Exits 0 when the URL answers 200 (fpdjango/health.py: the database answers), 1 otherwise.
Standard library only, because the slim image has no curl.

Django answers only a Host named in DJANGO_ALLOWED_HOSTS (a probe for `127.0.0.1` would get
400), so the probe sends the first allowed host. `/healthz` is exempt from the HTTPS redirect,
so plain HTTP to gunicorn is enough.
"""

from __future__ import annotations

import http.client
import os
import sys
from urllib.parse import urlsplit

DEFAULT_ALLOWED_HOSTS = "localhost"  # fpdjango/settings.py's default starts with it


def probe_host(allowed_hosts: str) -> str:
    """A Host header that DJANGO_ALLOWED_HOSTS accepts: its first entry, made concrete."""
    entries = [entry.strip() for entry in allowed_hosts.split(",") if entry.strip()]
    first = entries[0] if entries else DEFAULT_ALLOWED_HOSTS
    if first == "*":
        return "localhost"
    if first.startswith("."):  # `.example.com`: the domain and every subdomain
        return first[1:]
    return first


def probe(url: str, allowed_hosts: str, timeout: float = 5.0) -> int | None:
    """The status `url` answers, or None when nothing answered."""
    parts = urlsplit(url)
    path = parts.path or "/"
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": probe_host(allowed_hosts)})
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: healthcheck.py http://127.0.0.1:8000/healthz", file=sys.stderr)
        return 2
    status = probe(argv[0], os.environ.get("DJANGO_ALLOWED_HOSTS", DEFAULT_ALLOWED_HOSTS))
    if status != 200:
        print(f"{argv[0]}: {status or 'no answer'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""HTML pages. The signup page only renders the form; the API does all the work."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

from risk.conf import SANDBOX_PUBLIC_API_KEY, risk_settings

FINGERPRINT_AGENT_URL = "https://fpjscdn.net/v4/{key}"


def agent_config() -> dict[str, Any]:
    """How the page loads the agent: Fingerprint's CDN with a public key, else the sandbox.

    Without a public key the agent comes from the same place the server reads events from
    (FINGERPRINT_API_URL, or FINGERPRINT_SANDBOX_URL when no secret key is set), so the page
    and the API always talk to the same sandbox.
    """
    conf = risk_settings()
    public_key = conf.public_api_key
    if public_key:
        return {
            "kind": "fingerprint",
            "url": FINGERPRINT_AGENT_URL.format(key=public_key),
            "apiKey": public_key,
            "region": conf.region,
        }
    return {
        "kind": "sandbox",
        "url": f"{conf.api_url}/agent.js",
        "apiKey": SANDBOX_PUBLIC_API_KEY,
    }


@require_safe
@ensure_csrf_cookie
def signup_page(request: HttpRequest) -> HttpResponse:
    """GET /signup: the form; the agent runs on submit, then the form posts to /api/signup."""
    return render(request, "signup.html", {"agent": agent_config()})

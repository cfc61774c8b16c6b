"""HTML pages. The signup page only renders the form; the API does all the work."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe

from risk.agent import agent_config


@require_safe
@ensure_csrf_cookie
def signup_page(request: HttpRequest) -> HttpResponse:
    """GET /signup: the form; the agent runs on submit, then the form posts to /api/signup."""
    return render(request, "signup.html", {"agent": agent_config()})

"""Pages of the review console: the evidence page, the device cluster page, the decision
endpoints and the dashboard on the admin index. They read through risk.selectors and write
only through risk.services.review."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from risk import selectors
from risk.admin.forms import DecisionForm
from risk.models import Device, ReviewStatus, SignupAttempt
from risk.services.review import (
    ATTEMPT_ACTIONS,
    DEVICE_ACTIONS,
    RECORD_PERMISSION,
    ReviewError,
    review_decide,
)


def _attempt_url(pk) -> str:
    return reverse("admin:risk_signupattempt_change", args=[pk])


def _device_url(pk) -> str:
    return reverse("admin:risk_device_change", args=[pk])


def _queue_url() -> str:
    return reverse("admin:risk_signupattempt_changelist")


def attempt_evidence(model_admin, request, object_id, form=None) -> TemplateResponse:
    """Everything a reviewer needs to decide on one attempt, on one page."""
    attempt = get_object_or_404(
        SignupAttempt.objects.select_related(
            "fingerprint_event", "device", "account", "drn_snapshot"
        ),
        pk=object_id,
    )
    if not model_admin.has_view_permission(request, attempt):
        raise PermissionDenied
    signals = selectors.attempt_signals(attempt=attempt)
    snapshot = attempt.fingerprint_event
    can_decide = request.user.has_perm(RECORD_PERMISSION)
    actions = ATTEMPT_ACTIONS + (DEVICE_ACTIONS if attempt.device_id else ())
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": f"Signup attempt #{attempt.pk}: {attempt.username}",
        "attempt": attempt,
        "original": attempt,
        "signals": signals,
        "event": signals["event"],
        "checks": selectors.attempt_checks(attempt=attempt),
        "reasons": selectors.attempt_reasons(attempt=attempt),
        "cluster": selectors.device_cluster(device=attempt.device, limit=50),
        "same_ip": selectors.attempts_same_ip(attempt=attempt),
        "decisions": selectors.attempt_decisions(attempt=attempt),
        "raw_json": json.dumps(snapshot.raw, indent=2, sort_keys=True) if snapshot else "",
        "can_decide": can_decide,
        "form": form or DecisionForm(actions=actions),
        "decide_url": reverse("admin:risk_signupattempt_decide", args=[attempt.pk]),
        "device_url": _device_url(attempt.device_id) if attempt.device_id else "",
        "is_pending": attempt.review_status == ReviewStatus.PENDING,
    }
    return TemplateResponse(request, "risk/review/attempt_evidence.html", context)


def _decide(request, *, attempt=None, device=None, actions) -> ReviewError | DecisionForm | None:
    """Validate the posted decision and call the service; returns the failure, if any."""
    if not request.user.has_perm(RECORD_PERMISSION):
        raise PermissionDenied
    form = DecisionForm(request.POST, actions=actions)
    if not form.is_valid():
        return form
    action, reason, note = form.decision()
    try:
        review_decide(
            actor=request.user,
            action=action,
            reason=reason,
            note=note,
            attempt=attempt,
            device=device,
        )
    except ReviewError as exc:
        form.add_error(None, f"{exc.message} [{exc.code}]")
        return form
    messages.success(request, f"Recorded: {action.replace('_', ' ')} ({reason}).")
    return None


def attempt_decide(model_admin, request, object_id):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    attempt = get_object_or_404(SignupAttempt, pk=object_id)
    actions = ATTEMPT_ACTIONS + (DEVICE_ACTIONS if attempt.device_id else ())
    failed = _decide(request, attempt=attempt, actions=actions)
    if failed is not None:
        response = attempt_evidence(model_admin, request, object_id, form=failed)
        response.status_code = 400
        return response
    if "_next" in request.POST:  # "save and next": the next pending item of the queue
        following = selectors.attempt_next_pending(after=attempt)
        if following is not None:
            return HttpResponseRedirect(_attempt_url(following.pk))
        messages.info(request, "The queue is empty.")
        return HttpResponseRedirect(_queue_url())
    return HttpResponseRedirect(_attempt_url(attempt.pk))


def device_cluster_page(model_admin, request, object_id, form=None) -> TemplateResponse:
    """A device, its accounts and attempts on a timeline, and its decisions."""
    device = get_object_or_404(Device, pk=object_id)
    if not model_admin.has_view_permission(request, device):
        raise PermissionDenied
    cluster = selectors.device_cluster(device=device)
    timeline = sorted(
        [("attempt", a.created_at, a) for a in cluster["attempts"]]
        + [("account", u.date_joined, u) for u in cluster["accounts"]],
        key=lambda item: item[1],
        reverse=True,
    )
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": f"Device {device.visitor_id}",
        "device": device,
        "original": device,
        "cluster": cluster,
        "timeline": timeline,
        "decisions": selectors.device_decisions(device=device),
        "can_decide": request.user.has_perm(RECORD_PERMISSION),
        "form": form or DecisionForm(actions=DEVICE_ACTIONS),
        "decide_url": reverse("admin:risk_device_decide", args=[device.pk]),
    }
    return TemplateResponse(request, "risk/review/device_cluster.html", context)


def device_decide(model_admin, request, object_id):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    device = get_object_or_404(Device, pk=object_id)
    failed = _decide(request, device=device, actions=DEVICE_ACTIONS)
    if failed is not None:
        response = device_cluster_page(model_admin, request, object_id, form=failed)
        response.status_code = 400
        return response
    return HttpResponseRedirect(_device_url(device.pk))


def install_dashboard(site: admin.AdminSite) -> None:
    """Show the review dashboard above the app list on the admin index."""
    original_index = site.index
    site.index_template = "risk/review/dashboard.html"

    def index(request, extra_context=None):
        extra = dict(extra_context or {})
        if request.user.has_perm("risk.view_signupattempt"):
            extra["dashboard"] = selectors.stats_dashboard()
            extra["queue_url"] = _queue_url()
        return original_index(request, extra_context=extra)

    site.index = index

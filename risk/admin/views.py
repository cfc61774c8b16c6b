"""Pages of the review console: the evidence page, the device cluster page, the decision
endpoints and the dashboard on the admin index. They read through risk.selectors and write
only through risk.services.review."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from risk import selectors
from risk.admin.base import object_or_404
from risk.admin.forms import DecisionForm
from risk.models import Device, ReviewAction, ReviewStatus, SignupAttempt
from risk.services.drn import device_is_android
from risk.services.review import (
    ATTEMPT_ACTIONS,
    QUICK_ACTIONS,
    RECORD_PERMISSION,
    ReviewError,
    attempt_claim,
    attempt_release,
    claim_holder,
    device_actions,
    review_decide,
    review_default_reason,
)
from risk.services.review_drn import drn_lookup_again


def _attempt_url(pk, preserved: str = "") -> str:
    url = reverse("admin:risk_signupattempt_change", args=[pk])
    return f"{url}?{urlencode({'_changelist_filters': preserved})}" if preserved else url


def _device_url(pk) -> str:
    return reverse("admin:risk_device_change", args=[pk])


def _queue_url(preserved: str = "") -> str:
    url = reverse("admin:risk_signupattempt_changelist")
    return f"{url}?{preserved}" if preserved else url


def preserved_filters(request) -> str:
    """The queue's query string (filters, order, search) the reviewer came from."""
    return (
        request.POST.get("_changelist_filters") or request.GET.get("_changelist_filters") or ""
    )[:2000]


def _neighbours(model_admin, request, attempt, preserved: str) -> dict:
    queryset, newest_first = model_admin.queue_selection(request, preserved)
    found = {}
    for name, step in (("next", 1), ("previous", -1)):
        item = selectors.attempt_neighbour(
            queryset=queryset,
            attempt=attempt,
            newest_first=newest_first,
            step=step,
            skip_claimed_by_others_of=request.user,
        )
        found[name] = _attempt_url(item.pk, preserved) if item else ""
    return found


def attempt_evidence(
    model_admin, request, object_id, form=None, error: ReviewError | None = None
) -> TemplateResponse:
    """Everything a reviewer needs to decide on one attempt, on one page."""
    attempt = object_or_404(
        SignupAttempt.objects.select_related(
            "fingerprint_event", "device", "account", "drn_snapshot", "claimed_by"
        ),
        object_id,
    )
    if not model_admin.has_view_permission(request, attempt):
        raise PermissionDenied
    signals = selectors.attempt_signals(attempt=attempt)
    snapshot = attempt.fingerprint_event
    can_decide = request.user.has_perm(RECORD_PERMISSION)
    is_pending = attempt.review_status == ReviewStatus.PENDING
    claim_conflict = ""
    holder = claim_holder(attempt)
    if holder is not None and holder != request.user.pk:
        claim_conflict = f"{attempt.claimed_by} is reviewing this attempt."
    device_choices = device_actions(device=attempt.device)
    actions = ATTEMPT_ACTIONS + device_choices
    preserved = preserved_filters(request)
    quick = [
        (
            action,
            ReviewAction(action).label,
            KEYS[action],
            review_default_reason(action=action, attempt=attempt),
        )
        for action in QUICK_ACTIONS
        if action in actions
    ]
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": f"Signup attempt #{attempt.pk}: {attempt.username}",
        "attempt": attempt,
        "original": attempt,
        "signals": signals,
        "event": signals["event"],
        "checks": selectors.attempt_checks(attempt=attempt),
        "circumstances": selectors.attempt_circumstances(attempt=attempt),
        "reasons": selectors.attempt_reasons(attempt=attempt),
        "cluster": selectors.device_cluster(device=attempt.device, limit=50),
        "same_ip": selectors.attempts_same_ip(attempt=attempt),
        "decisions": selectors.attempt_decisions(attempt=attempt),
        "raw_json": json.dumps(snapshot.raw, indent=2, sort_keys=True) if snapshot else "",
        "can_decide": can_decide,
        "form": form or DecisionForm(actions=actions),
        "decide_url": reverse("admin:risk_signupattempt_decide", args=[attempt.pk]),
        "release_url": reverse("admin:risk_signupattempt_release", args=[attempt.pk]),
        "claim_url": reverse("admin:risk_signupattempt_claim", args=[attempt.pk]),
        "device_url": _device_url(attempt.device_id) if attempt.device_id else "",
        "is_pending": is_pending,
        "claim_conflict": claim_conflict,
        "claimed_by_me": holder == request.user.pk,
        "quick_actions": quick,
        "preserved": preserved,
        "queue_url": _queue_url(preserved),
        "nav": _neighbours(model_admin, request, attempt, preserved),
        "error": error,
        # A later lookup ("look up again") shown beside the signup-time evidence, which stays.
        "drn_latest": selectors.device_drn_latest(
            device_id=attempt.device_id, other_than=attempt.drn_snapshot_id
        ),
        "drn_again_url": (
            reverse("admin:risk_signupattempt_drn", args=[attempt.pk])
            if can_decide and attempt.device and device_is_android(device=attempt.device)
            else ""
        ),
    }
    return TemplateResponse(request, "risk/review/attempt_evidence.html", context)


def dashboard_page(model_admin, request) -> TemplateResponse:
    """The review dashboard on a page of its own: on the project's own admin site, where the
    index is the project's (the dedicated review site shows it on its index too)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Signup review",
        "dashboard": selectors.stats_dashboard(),
        "queue_url": _queue_url(),
    }
    return TemplateResponse(request, "risk/review/dashboard_page.html", context)


KEYS = {
    ReviewAction.APPROVE: "a",
    ReviewAction.REJECT: "r",
    ReviewAction.BLOCK_DEVICE: "b",
    ReviewAction.TRUST_DEVICE: "t",
}
CONFLICTS = ("not_pending", "claimed_by_other", "changed")  # 409: the item changed under you


def _may_decide(model_admin, request) -> None:
    """Deciding needs the decision permission and the evidence's own view permission: nobody
    decides on what they may not see."""
    if not (request.user.has_perm(RECORD_PERMISSION) and model_admin.has_view_permission(request)):
        raise PermissionDenied


def _decide(
    model_admin, request, *, attempt=None, device=None, actions
) -> tuple[ReviewError | None, DecisionForm | None]:
    """Validate the posted decision (a one-click `quick` action or the form) and call the
    service; returns (service error, invalid form), both None on success."""
    _may_decide(model_admin, request)
    quick = request.POST.get("quick", "")
    if quick:
        if quick not in actions:
            return ReviewError("invalid_action", f"{quick!r} is not offered here."), None
        action, note = quick, request.POST.get("note", "")
        reason = request.POST.get("reason") or review_default_reason(action=action, attempt=attempt)
        form = None
    else:
        form = DecisionForm(request.POST, actions=actions)
        if not form.is_valid():
            return None, form
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
        if form is not None:
            form.add_error(None, f"{exc.message} [{exc.code}]")
        return exc, form
    messages.success(request, f"Recorded: {action.replace('_', ' ')} ({reason}).")
    return None, None


def attempt_decide(model_admin, request, object_id):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    attempt = object_or_404(SignupAttempt.objects.select_related("device"), object_id)
    actions = ATTEMPT_ACTIONS + device_actions(device=attempt.device)
    error, form = _decide(model_admin, request, attempt=attempt, actions=actions)
    if error is not None or form is not None:
        response = attempt_evidence(model_admin, request, object_id, form=form, error=error)
        response.status_code = 409 if error is not None and error.code in CONFLICTS else 400
        return response
    preserved = preserved_filters(request)
    if "_next" in request.POST:  # "save and next": the next item of the reviewer's selection
        nav = _neighbours(model_admin, request, attempt, preserved)
        if nav["next"]:
            return HttpResponseRedirect(nav["next"])
        messages.info(request, "That was the last item of this selection.")
        return HttpResponseRedirect(_queue_url(preserved))
    return HttpResponseRedirect(_attempt_url(attempt.pk, preserved))


def attempt_take(model_admin, request, object_id):
    """The evidence page's "Claim it": a soft lock other reviewers see, for
    REVIEW_CLAIM_MINUTES (giving back the reviewer's previous item). A POST: opening a page
    changes nothing."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    _may_decide(model_admin, request)
    attempt = object_or_404(SignupAttempt, object_id)
    preserved = preserved_filters(request)
    try:
        attempt_claim(actor=request.user, attempt=attempt)
    except ReviewError as exc:
        response = attempt_evidence(model_admin, request, object_id, error=exc)
        response.status_code = 409
        return response
    return HttpResponseRedirect(_attempt_url(attempt.pk, preserved))


def attempt_give_back(model_admin, request, object_id):
    """The evidence page's "Give it back": end one's own claim (someone else's stays), so
    another reviewer can take the item now rather than when the claim runs out."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    _may_decide(model_admin, request)
    attempt = object_or_404(SignupAttempt, object_id)
    attempt_release(actor=request.user, attempt=attempt)
    messages.info(request, f"Attempt #{attempt.pk} given back: another reviewer can take it.")
    return HttpResponseRedirect(_queue_url(preserved_filters(request)))


def attempt_drn_again(model_admin, request, object_id):
    """The DRN panel's "look up again" button."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    _may_decide(model_admin, request)
    attempt = object_or_404(SignupAttempt.objects.select_related("device"), object_id)
    try:
        snapshot = drn_lookup_again(actor=request.user, attempt=attempt)
    except ReviewError as exc:
        if exc.code == "forbidden":
            raise PermissionDenied from exc
        response = attempt_evidence(model_admin, request, object_id, error=exc)
        response.status_code = 429 if exc.code == "rate_limited" else 400
        return response
    level = messages.success if snapshot.status != "error" else messages.warning
    level(request, f"DRN looked up again: {snapshot.get_status_display()}.")
    return HttpResponseRedirect(_attempt_url(attempt.pk, preserved_filters(request)))


def device_cluster_page(
    model_admin, request, object_id, form=None, error: ReviewError | None = None
) -> TemplateResponse:
    """A device, its accounts and attempts on a timeline, and its decisions."""
    device = object_or_404(Device, object_id)
    if not model_admin.has_view_permission(request, device):
        raise PermissionDenied
    cluster = selectors.device_cluster(device=device)
    timeline = sorted(
        [("attempt", a.created_at, a) for a in cluster["attempts"]]
        + [("account", u.joined, u) for u in cluster["accounts"]],
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
        "form": form or DecisionForm(actions=device_actions(device=device)),
        "decide_url": reverse("admin:risk_device_decide", args=[device.pk]),
        "error": error,
    }
    return TemplateResponse(request, "risk/review/device_cluster.html", context)


def device_decide(model_admin, request, object_id):
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    device = object_or_404(Device, object_id)
    error, form = _decide(
        model_admin, request, device=device, actions=device_actions(device=device)
    )
    if error is not None or form is not None:
        response = device_cluster_page(model_admin, request, object_id, form=form, error=error)
        response.status_code = 409 if error is not None and error.code in CONFLICTS else 400
        return response
    return HttpResponseRedirect(_device_url(device.pk))

"""The backtest page: try rule thresholds on the stored attempts of a window before changing
them, apply them from the result (or revert the last change), and the audit of every change
(ThresholdChange, read-only). For staff with `risk.run_backtest` (superusers; not the
Reviewer group). The pages hang under the audit list's URL, so they exist on a host's own
admin site and on the dedicated review site alike."""

from __future__ import annotations

from datetime import datetime

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from risk.admin.base import EvidenceAdmin, pk_parse
from risk.admin.forms import BacktestForm, threshold_shown, threshold_text
from risk.admin.thresholds import may_change_thresholds
from risk.conf import risk_settings
from risk.models import SignupAttempt, ThresholdChange
from risk.services.backtest import (
    DONE,
    OUTCOMES,
    RUNNING,
    SIDES,
    BacktestRun,
    backtest_apply,
    backtest_finish,
    backtest_get,
    backtest_start,
    backtests_recent,
)
from risk.services.thresholds import (
    MAX_NOTE_LENGTH,
    ThresholdError,
    django_thresholds,
    threshold_change_latest,
    threshold_change_revertable,
    thresholds_revert,
)
from risk.thresholds import THRESHOLDS, thresholds_of, thresholds_reload


def _changes_html(values: dict, previous: dict):
    return format_html_join(
        "",
        "<div><code>{}</code> {} &rarr; <strong>{}</strong></div>",
        (
            (name, threshold_shown(previous.get(name)), threshold_shown(value))
            for name, value in values.items()
        ),
    )


@admin.register(ThresholdChange)
class ThresholdChangeAdmin(EvidenceAdmin):
    list_display = ("created_at", "actor", "action", "changes", "note", "reverts")
    list_select_related = ("actor", "reverts")
    ordering = ("-created_at", "-pk")

    def has_module_permission(self, request):
        return may_change_thresholds(request)

    def has_view_permission(self, request, obj=None):
        return may_change_thresholds(request)

    @admin.display(description="Thresholds (before -> after)")
    def changes(self, obj):
        return _changes_html(obj.values, obj.previous)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "backtest/",
                wrap(lambda request: backtest_page(self, request)),
                name="risk_thresholdchange_backtest",
            ),
            path(
                "backtest/<str:run_id>/",
                wrap(lambda request, run_id: backtest_run_page(self, request, run_id)),
                name="risk_thresholdchange_backtest_run",
            ),
            path(
                "backtest/<str:run_id>/progress/",
                wrap(lambda request, run_id: backtest_progress(self, request, run_id)),
                name="risk_thresholdchange_backtest_progress",
            ),
            path(
                "backtest/<str:run_id>/apply/",
                wrap(lambda request, run_id: backtest_apply_page(self, request, run_id)),
                name="risk_thresholdchange_backtest_apply",
            ),
            path(
                "revert/",
                wrap(lambda request: threshold_revert(self, request)),
                name="risk_thresholdchange_revert",
            ),
            *super().get_urls(),
        ]


def _may_backtest(request) -> None:
    if not may_change_thresholds(request):
        raise PermissionDenied


def _page_url() -> str:
    return reverse("admin:risk_thresholdchange_backtest")


def _run_url(run_id: str) -> str:
    return reverse("admin:risk_thresholdchange_backtest_run", args=[run_id])


def _context(model_admin, request, title: str, **extra) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
        **extra,
    }


def _run_or_404(run_id: str) -> BacktestRun:
    run = backtest_get(run_id=run_id[:32])
    if run is None:
        raise Http404("No such backtest (only the latest runs are kept).")
    return run


def backtest_page(model_admin, request):
    """Every threshold with its value in force and its Django setting; the form to backtest
    other values over a window; the last change (revertable) and the recent runs."""
    _may_backtest(request)
    thresholds_reload()  # show what is in force now, not what this process read a minute ago
    current = thresholds_of(risk_settings())
    if request.method == "POST":
        form = BacktestForm(request.POST, current=current)
        if form.is_valid():
            try:
                run_id = backtest_start(
                    actor=request.user,
                    window_days=form.cleaned_data["window"],
                    values=form.values,
                )
            except ThresholdError as exc:
                form.add_error(None, f"{exc.message} [{exc.code}]")
                for name, problem in exc.problems.items():
                    form.add_error(name if name in form.fields else None, problem)
            else:
                return HttpResponseRedirect(_run_url(run_id))
    else:
        again = backtest_get(run_id=request.GET["run"][:32]) if request.GET.get("run") else None
        initial = {"window": again.report.window_days} if again else {}
        if again:  # "try again": the values of an earlier run, the window too
            initial.update({n: threshold_text(v) for n, v in again.report.proposed.items()})
        form = BacktestForm(current=current, initial=initial)
    defaults = thresholds_of(django_thresholds())
    rows = [
        {
            "setting": setting,
            "field": form[setting.name],
            "current": threshold_shown(current[setting.name]),
            "default": threshold_shown(defaults[setting.name]),
            "overridden": current[setting.name] != defaults[setting.name],
        }
        for setting in THRESHOLDS
    ]
    latest = threshold_change_latest()
    context = _context(
        model_admin,
        request,
        "Backtest rule thresholds",
        form=form,
        rows=rows,
        changes=_recent_changes(),
        latest=latest if threshold_change_revertable(latest) else None,
        runs=backtests_recent(limit=10),
    )
    response = TemplateResponse(request, "risk/review/backtest.html", context)
    if request.method == "POST":
        response.status_code = 400
    return response


def _recent_changes(limit: int = 10) -> list[dict]:
    rows = ThresholdChange.objects.select_related("actor").order_by("-created_at", "-pk")
    return [
        {"change": change, "html": _changes_html(change.values, change.previous)}
        for change in rows[:limit]
    ]


def backtest_run_page(model_admin, request, run_id):
    """A run: its progress bar while it runs (the page polls it), then its figures."""
    _may_backtest(request)
    run = _run_or_404(run_id)
    if run.status == RUNNING and backtest_finish(run_id=run.run_id):
        run = _run_or_404(run_id)
    report = run.report
    if run.status == DONE:
        thresholds_reload()  # "apply" is offered only against what is in force now
    in_force = thresholds_of(risk_settings())
    stale = any(in_force.get(name) != value for name, value in report.current.items())
    context = _context(
        model_admin,
        request,
        f"Backtest {run.run_id}",
        run=run,
        report=report,
        changed=[
            (n, threshold_shown(a), threshold_shown(b)) for n, (a, b) in report.changed.items()
        ],
        outcomes=[
            {"name": o, **{s: report.outcomes[s][o] for s in SIDES}}
            for o in OUTCOMES
            if any(report.outcomes[s][o] for s in SIDES)
        ],
        moves=[
            {"move": move, "n": n, **report.moves_labelled.get(move, {})}
            for move, n in report.moves.most_common()
        ],
        labelled=_labelled(report),
        sample=_sample_rows(report),
        stale=stale,
        can_apply=run.status == DONE and bool(report.changed) and not stale,
        progress_url=reverse("admin:risk_thresholdchange_backtest_progress", args=[run.run_id]),
        apply_url=reverse("admin:risk_thresholdchange_backtest_apply", args=[run.run_id]),
        again_url=f"{_page_url()}?run={run.run_id}",
        page_url=_page_url(),
    )
    return TemplateResponse(request, "risk/review/backtest_run.html", context)


def _labelled(report) -> list[dict]:
    """The labelled estimates, one row per figure: now, proposed."""
    rows = []
    for key, label, decision, text in (
        ("people_denied", "person", "deny", "people denied"),
        ("people_held", "person", "review", "people held for review"),
        ("fraud_allowed", "fraud", "allow", "fraud allowed"),
        ("fraud_held", "fraud", "review", "fraud held for review"),
    ):
        rows.append(
            {
                "key": key,
                "text": text,
                "of": report.labels[label],
                **{side: report.labelled[side][label][decision] for side in SIDES},
            }
        )
    return rows


def _sample_rows(report) -> list[dict]:
    items = report.sample()
    # Usernames are read now, not kept with the run: an erased person stays erased.
    names = dict(
        SignupAttempt.objects.filter(pk__in=[i["attempt"] for i in items]).values_list(
            "pk", "username"
        )
    )
    return [
        {
            **item,
            "created_at": datetime.fromisoformat(item["created_at"]),
            "username": names.get(item["attempt"], ""),
            "url": reverse("admin:risk_signupattempt_change", args=[item["attempt"]]),
        }
        for item in items
        if item["attempt"] in names
    ]


def backtest_progress(model_admin, request, run_id):
    """The run's progress as JSON, for the page's progress bar."""
    _may_backtest(request)
    run = _run_or_404(run_id)
    if run.status == RUNNING and run.done >= run.total and backtest_finish(run_id=run.run_id):
        run = _run_or_404(run_id)
    return JsonResponse(
        {
            "status": run.status,
            "done": run.done,
            "total": run.total,
            "percent": run.percent,
            "elapsed_s": round(run.elapsed_s, 1),
        }
    )


def backtest_apply_page(model_admin, request, run_id):
    """What applying the run would change, and a note; the confirming POST applies it."""
    _may_backtest(request)
    run = _run_or_404(run_id)
    error = None
    note = ""
    if request.method == "POST":
        note = request.POST.get("note", "")[:MAX_NOTE_LENGTH]
        try:
            change = backtest_apply(actor=request.user, run_id=run.run_id, note=note)
        except ThresholdError as exc:
            error = exc
        else:
            messages.success(
                request,
                f"Applied ({', '.join(change.values)}): every process uses the new values "
                "within a minute.",
            )
            return HttpResponseRedirect(_page_url())
    elif request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    defaults = thresholds_of(django_thresholds())
    changes = [
        {
            "name": name,
            "now": threshold_shown(now),
            "proposed": threshold_shown(proposed),
            "back_to_default": proposed == defaults[name],
        }
        for name, (now, proposed) in run.report.changed.items()
    ]
    context = _context(
        model_admin,
        request,
        f"Apply the thresholds of backtest {run.run_id}",
        run=run,
        report=run.report,
        labelled=_labelled(run.report),
        changes=changes,
        error=error,
        note=note,
        run_url=_run_url(run.run_id),
        again_url=f"{_page_url()}?run={run.run_id}",
    )
    response = TemplateResponse(request, "risk/review/backtest_apply.html", context)
    if error is not None:
        response.status_code = 409 if error.code == "changed" else 400
    return response


def threshold_revert(model_admin, request):
    """The page's "Revert": the latest change undone exactly, audited; refused when the
    values it set have changed since."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    _may_backtest(request)
    pk = pk_parse(ThresholdChange, request.POST.get("change", ""))
    change = ThresholdChange.objects.filter(pk=pk).first() if pk is not None else None
    if change is None:
        raise Http404("No such threshold change.")
    note = request.POST.get("note", "")[:MAX_NOTE_LENGTH]
    try:
        revert = thresholds_revert(actor=request.user, change=change, note=note)
    except ThresholdError as exc:
        messages.error(request, f"{exc.message} [{exc.code}]")
        return HttpResponseRedirect(_page_url())
    messages.success(
        request,
        format_html(
            "Reverted change #{} ({}): every process uses the values within a minute.",
            change.pk,
            ", ".join(revert.values),
        ),
    )
    return HttpResponseRedirect(_page_url())

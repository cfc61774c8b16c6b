"""The review queue (SignupAttempt changelist) and the evidence page (its change view)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import QuerySet
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from risk.admin import actions, exports, filters, privacy, views
from risk.admin.base import EvidenceAdmin
from risk.admin.forms import BulkDecisionActionForm
from risk.models import ReviewStatus, SignupAttempt
from risk.selectors import attempt_search_q
from risk.services.review import claim_holder
from risk.templatetags.review import duration

EMPTY = "\u2013"  # en dash: "no value"


def compact_time(moment) -> str:
    """One short line for a queue row: the time today, the day and time this year, the date
    before; the full timestamp is the title."""
    local = timezone.localtime(moment)
    now = timezone.localtime()
    if local.date() == now.date():
        text = local.strftime("%H:%M")
    elif local.year == now.year:
        text = f"{local.day} {local:%b %H:%M}"
    else:
        text = local.strftime("%Y-%m-%d")
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        local.isoformat(),
        local.strftime("%Y-%m-%d %H:%M:%S %Z"),
        text,
    )


@admin.register(SignupAttempt)
class SignupAttemptAdmin(exports.CsvExportMixin, EvidenceAdmin):
    export_view = staticmethod(exports.queue_csv)
    list_display = (
        "when",
        "waiting",
        "identifier",
        "decision_and_reasons",
        "bot_result",
        "suspect_score",
        "country",
        "network",
        "device_accounts",
        "drn_percentile",
        "review",
    )
    list_display_links = ("when", "identifier")
    list_filter = (
        filters.ReviewStatusFilter,
        "decision",
        filters.ReasonFilter,
        filters.BotFilter,
        filters.SuspectScoreFilter,
        filters.PlatformFilter,
        filters.NetworkFilter,
        filters.CountryFilter,
        filters.AsnFilter,
        filters.EmailDomainFilter,
        filters.DateRangeFilter,
    )
    list_select_related = ("fingerprint_event", "device", "drn_snapshot", "claimed_by")
    list_per_page = 50
    # Oldest first: the user who has waited longest is decided first (attempt_queue_idx).
    ordering = ("created_at", "pk")
    sortable_by = ("when",)  # the keyset navigation between items follows created_at
    search_fields = ("username",)  # shows the box; get_search_results does exact lookups
    search_help_text = (
        "Exact match: reference, username, email, visitor id, event id or IP address;"
        " @example.com for an email domain and its subdomains."
    )
    actions = [*actions.REVIEW_ACTIONS, privacy.erase_people]
    action_form = BulkDecisionActionForm

    def has_erase_permission(self, request) -> bool:
        return request.user.is_superuser

    def get_queryset(self, request):
        # The snapshot's raw JSON is several KB a row and the list never shows it.
        return super().get_queryset(request).defer("fingerprint_event__raw", "drn_snapshot__raw")

    def get_search_results(self, request, queryset, search_term):
        q = attempt_search_q(term=search_term)
        return (queryset.filter(q) if q is not None else queryset), False

    def queue_selection(self, request, query_string: str) -> tuple[QuerySet, bool]:
        """(rows the queue shows for that query string, whether newest first)."""
        queryset = self.selection(request, query_string)
        newest_first = bool(queryset.query.order_by) and queryset.query.order_by[0] == "-created_at"
        return queryset, newest_first

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "dashboard/",
                wrap(lambda request: views.dashboard_page(self, request)),
                name="risk_signupattempt_dashboard",
            ),
            path(
                "<path:object_id>/drn/",
                wrap(lambda request, object_id: views.attempt_drn_again(self, request, object_id)),
                name="risk_signupattempt_drn",
            ),
            path(
                "<path:object_id>/claim/",
                wrap(lambda request, object_id: views.attempt_take(self, request, object_id)),
                name="risk_signupattempt_claim",
            ),
            path(
                "<path:object_id>/release/",
                wrap(lambda request, object_id: views.attempt_give_back(self, request, object_id)),
                name="risk_signupattempt_release",
            ),
            path(
                "<path:object_id>/decide/",
                wrap(lambda request, object_id: views.attempt_decide(self, request, object_id)),
                name="risk_signupattempt_decide",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return views.attempt_evidence(self, request, object_id)

    @admin.display(description="Time", ordering="created_at")
    def when(self, obj):
        return compact_time(obj.created_at)

    @admin.display(description="Waiting")
    def waiting(self, obj):
        if obj.review_status != ReviewStatus.PENDING:
            return EMPTY
        return format_html(
            '<span class="rv-wait">{}</span>', duration(timezone.now() - obj.created_at)
        )

    @admin.display(description="Country")
    def country(self, obj):
        code = obj.fingerprint_event.country_code if obj.fingerprint_event else ""
        if not code:
            return EMPTY
        return format_html('<a href="?{}">{}</a>', urlencode({"country": code}), code)

    @admin.display(description="Network")
    def network(self, obj):
        name = obj.fingerprint_event.asn_name if obj.fingerprint_event else ""
        if not name:
            return EMPTY
        # Cut to the column's width by CSS; the whole name is the title.
        return format_html('<a href="?{}" title="{}">{}</a>', urlencode({"asn": name}), name, name)

    @admin.display(description="Identifier")
    def identifier(self, obj):
        if not obj.email:
            return obj.username
        local, _, domain = obj.email.rpartition("@")
        email = format_html(
            '{}@<a href="?{}" title="This email domain">{}</a>',
            local,
            urlencode({"domain": domain}),
            domain,
        )
        if obj.username == obj.email:  # sites that sign people up by email alone
            return email
        return format_html("{}<br><small>{}</small>", obj.username, email)

    @admin.display(description="Decision / reasons")
    def decision_and_reasons(self, obj):
        reasons = format_html_join(
            " ", '<span class="rv-code">{}</span>', ((r,) for r in obj.reasons)
        )
        return format_html(
            '<span class="rv-pill rv-{}">{}</span> {}', obj.decision, obj.decision, reasons
        )

    @admin.display(description="Bot")
    def bot_result(self, obj):
        event = obj.fingerprint_event
        if event is None or not event.bot:
            return EMPTY
        # One word in the row ("bad", "good", "no"); the bot's type is the title.
        word = {"not_detected": "no", "notDetected": "no"}.get(event.bot, event.bot)
        kind = event.bot_type.replace("_", " ") if event.bot_type else ""
        tone = {"bad": "deny", "good": "review"}.get(event.bot, "muted")
        return format_html('<span class="rv-text-{}" title="{}">{}</span>', tone, kind, word)

    @admin.display(description="Score")
    def suspect_score(self, obj):
        event = obj.fingerprint_event
        if event is None or event.suspect_score is None:
            return EMPTY
        tone = (
            "deny" if event.suspect_score >= 20 else "review" if event.suspect_score >= 10 else "ok"
        )
        return format_html(
            '<span class="rv-score rv-score-{}">{}</span>', tone, event.suspect_score
        )

    @admin.display(description="Accounts")
    def device_accounts(self, obj):
        if obj.device is None:
            return EMPTY
        url = reverse("admin:risk_device_change", args=[obj.device_id])
        status = "" if obj.device.status == "normal" else f" ({obj.device.status})"
        return format_html('<a href="{}">{}{}</a>', url, obj.device.account_count, status)

    @admin.display(description="DRN pct")
    def drn_percentile(self, obj):
        drn = obj.drn_snapshot
        if drn is None or drn.max_percentile is None:
            return EMPTY
        return f"{drn.max_percentile * 100:.0f}%"  # stored as a share (0.97 = 97th)

    @admin.display(description="Review")
    def review(self, obj):
        if not obj.review_status:
            return EMPTY
        pill = format_html(
            '<span class="rv-pill rv-{}">{}</span>',
            obj.review_status,
            obj.get_review_status_display(),
        )
        if claim_holder(obj) is None:
            return pill
        until = timezone.localtime(obj.claimed_until).strftime("%H:%M")
        return format_html(
            '{}<br><small class="rv-claim">taken by {} until {}</small>',
            pill,
            obj.claimed_by,
            until,
        )

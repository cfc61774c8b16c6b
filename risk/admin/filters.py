"""List filters of the review queue. Each one maps to an indexed or cheaply joined column;
none computes counts (facets are off), so they stay fast on millions of attempts."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.dateparse import parse_date

from risk import rules
from risk.models import ReviewStatus
from risk.selectors import attempt_email_domain_q, attempt_reason_q


class ReviewStatusFilter(admin.SimpleListFilter):
    """Defaults to "pending": the queue opens on what needs a decision."""

    title = "review status"
    parameter_name = "status"
    DEFAULT = ReviewStatus.PENDING

    def lookups(self, request, model_admin):
        return [
            (ReviewStatus.PENDING, "Pending"),
            (ReviewStatus.APPROVED, "Approved"),
            (ReviewStatus.REJECTED, "Rejected"),
            ("none", "Not needed"),
            ("all", "All attempts"),
        ]

    def value(self):
        return super().value() or self.DEFAULT

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value()
        if value == "all":
            return queryset
        if value == "none":
            return queryset.filter(review_status=ReviewStatus.NONE)
        if value in ReviewStatus.values:
            return queryset.filter(review_status=value)
        return queryset


class ReasonFilter(admin.SimpleListFilter):
    title = "reason"
    parameter_name = "reason"

    def lookups(self, request, model_admin):
        return [(code, code.replace("_", " ")) for code in rules.REASONS]

    def queryset(self, request, queryset):
        code = self.value()
        if code in rules.REASONS:
            return queryset.filter(attempt_reason_q(code=code))
        return queryset


class BotFilter(admin.SimpleListFilter):
    title = "bot result"
    parameter_name = "bot"

    def lookups(self, request, model_admin):
        return [("bad", "Bad bot"), ("good", "Good bot"), ("not_detected", "Not detected")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(fingerprint_event__bot=self.value())
        return queryset


class SuspectScoreFilter(admin.SimpleListFilter):
    title = "suspect score"
    parameter_name = "score"
    BANDS = {
        "0": ("0 (clean)", 0, 0),
        "1-9": ("1 to 9", 1, 9),
        "10-19": ("10 to 19", 10, 19),
        "20+": ("20 and above", 20, None),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _, _) in self.BANDS.items()]

    def queryset(self, request, queryset):
        band = self.BANDS.get(self.value() or "")
        if band is None:
            return queryset
        _, low, high = band
        queryset = queryset.filter(fingerprint_event__suspect_score__gte=low)
        if high is not None:
            queryset = queryset.filter(fingerprint_event__suspect_score__lte=high)
        return queryset


class PlatformFilter(admin.SimpleListFilter):
    title = "platform"
    parameter_name = "platform"

    def lookups(self, request, model_admin):
        return [("js", "Browser"), ("android", "Android"), ("ios", "iOS")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(fingerprint_event__platform=self.value())
        return queryset


class NetworkFilter(admin.SimpleListFilter):
    title = "VPN / tampering"
    parameter_name = "net"
    FILTERS = {
        "vpn": ("VPN", {"fingerprint_event__vpn": True}),
        "tampering": ("Tampering", {"fingerprint_event__tampering": True}),
        "tor": ("Tor", {"fingerprint_event__tor": True}),
        "proxy": ("Proxy", {"fingerprint_event__proxy": True}),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in self.FILTERS.items()]

    def queryset(self, request, queryset):
        entry = self.FILTERS.get(self.value() or "")
        return queryset.filter(**entry[1]) if entry else queryset


class DateRangeFilter(admin.SimpleListFilter):
    """Presets plus a from/to form (both map onto the created_at index)."""

    title = "date"
    parameter_name = "when"
    template = "risk/review/date_filter.html"
    PRESETS = {"24h": ("Last 24 hours", 1), "7d": ("Last 7 days", 7), "30d": ("Last 30 days", 30)}

    def __init__(self, request, params, model, model_admin):
        self.since = _valid_date(request, "since", params.pop("since", [""])[-1])
        self.until = _valid_date(request, "until", params.pop("until", [""])[-1])
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in self.PRESETS.items()]

    def expected_parameters(self):
        return [self.parameter_name, "since", "until"]

    def has_output(self):
        return True

    def queryset(self, request, queryset):
        preset = self.PRESETS.get(self.value() or "")
        if preset:
            queryset = queryset.filter(created_at__gte=timezone.now() - timedelta(days=preset[1]))
        if self.since:
            queryset = queryset.filter(created_at__gte=_start_of(self.since))
        if self.until and self.until < date.max:  # inclusive: the whole "until" day
            queryset = queryset.filter(created_at__lt=_start_of(self.until + timedelta(days=1)))
        return queryset

    def choices(self, changelist):
        remove = [self.parameter_name, "since", "until"]
        # the from/to form must keep the other filters: hand them over as hidden inputs
        self.hidden_params = [(k, v) for k, v in changelist.params.items() if k not in remove]
        yield {
            "selected": self.value() is None and not (self.since or self.until),
            "query_string": changelist.get_query_string(remove=remove),
            "display": "Any date",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string(
                    {self.parameter_name: lookup}, remove=["since", "until"]
                ),
                "display": title,
            }


def _valid_date(request, name: str, text: str | None) -> date | None:
    """A YYYY-MM-DD date, or None with a message: "2026-02-30" must not be a 500."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        day = parse_date(text)
    except ValueError:  # well formed, not a real day
        day = None
    if day is None:
        messages.warning(request, f"Ignored the {name} date {text[:20]!r}: not a valid date.")
    return day


def _start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


class InputFilter(admin.SimpleListFilter):
    """A filter typed by the reviewer (or set by a link in a queue cell): no list of values,
    which would need a SELECT DISTINCT over the whole table."""

    template = "risk/review/input_filter.html"
    placeholder = ""

    def lookups(self, request, model_admin):
        return ()

    def has_output(self):
        return True

    def choices(self, changelist):
        self.hidden_params = [
            (k, v) for k, v in changelist.params.items() if k != self.parameter_name
        ]
        yield {
            "selected": not self.value(),
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Any",
        }

    def queryset(self, request, queryset):
        # A NUL is in no stored value, and PostgreSQL refuses to compare with one.
        value = (self.value() or "").replace("\x00", "").strip()
        return self.filter(queryset, value) if value else queryset


class CountryFilter(InputFilter):
    title = "country"
    parameter_name = "country"
    placeholder = "DE"

    def filter(self, queryset, value):
        return queryset.filter(fingerprint_event__country_code=value.upper()[:8])


class AsnFilter(InputFilter):
    title = "network (ASN)"
    parameter_name = "asn"
    placeholder = "exact name"

    def filter(self, queryset, value):
        return queryset.filter(fingerprint_event__asn_name=value[:255])


class EmailDomainFilter(InputFilter):
    """ "example.com" matches example.com and every subdomain (mail.example.com), as a prefix
    match on the reversed domain (attempt_email_domain_idx)."""

    title = "email domain"
    parameter_name = "domain"
    placeholder = "example.com"

    def filter(self, queryset, value):
        return queryset.filter(attempt_email_domain_q(domain=value))


class DeviceStatusFilter(admin.SimpleListFilter):
    title = "device status"
    parameter_name = "device_status"

    def lookups(self, request, model_admin):
        return [("normal", "Normal"), ("blocked", "Blocked"), ("trusted", "Trusted")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(status=self.value())
        return queryset


class DevicePlatformFilter(admin.SimpleListFilter):
    """Fixed choices: the stock field filter runs SELECT DISTINCT over the whole table."""

    title = "platform"
    parameter_name = "platform"
    field = "platform"

    def lookups(self, request, model_admin):
        return [("js", "Browser"), ("android", "Android"), ("ios", "iOS")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(**{self.field: self.value()})
        return queryset


class EventBotFilter(DevicePlatformFilter):
    title = "bot result"
    parameter_name = "bot"
    field = "bot"

    def lookups(self, request, model_admin):
        return [("bad", "Bad bot"), ("good", "Good bot"), ("not_detected", "Not detected")]

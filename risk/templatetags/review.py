"""Template filters of the review console."""

from datetime import timedelta

from django import template
from django.utils.html import format_html, format_html_join

register = template.Library()


@register.filter
def duration(delta: timedelta | None) -> str:
    """ "3 d 4 h", "5 h 12 min", "7 min", "40 s"."""
    if delta is None:
        return "\u2013"
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


@register.filter
def percent(share: float | None) -> str:
    return "\u2013" if share is None else f"{share * 100:.0f}%"


@register.filter
def ticks(text: str) -> str:
    """The settings table's help text (Markdown's `code`) as HTML: backticks become <code>."""
    parts = str(text).split("`")
    return format_html_join(
        "",
        "{}",
        (
            (format_html("<code>{}</code>", part) if i % 2 else part,)
            for i, part in enumerate(parts)
        ),
    )

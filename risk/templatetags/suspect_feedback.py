"""{% load suspect_feedback %}{% suspect_feedback_panel attempt %}: on the evidence page, what
the reviewers' decisions told Fingerprint about the attempt's event (risk.services.feedback).
A tag of its own, so the page shows it with one line and no change to its view."""

from django import template

from risk import selectors

register = template.Library()


@register.inclusion_tag("risk/review/_suspect_feedback.html")
def suspect_feedback_panel(attempt) -> dict:
    return {"feedback": selectors.attempt_suspect_report(attempt=attempt)}

"""django-allauth (65.x): Fingerprint-checked signups through allauth's own signup page.

    ACCOUNT_FORMS = {"signup": "risk.integrations.allauth.SignupForm"}

and `{% load fingerprint %}{% fingerprint_agent %}` on the signup page (the template tag fills
the form's hidden inputs `fingerprint_event_id` and `fingerprint_sealed_result` on submit).

Once allauth's own validation passed, the form asks for the verdict (risk.verdict):

    allowed          allauth creates the user as usual
    held/unverified  allauth creates the user, inactive (allauth then shows its
                     "account inactive" page)
    denied           the form comes back with an error that does not name the rule
    throttled        the form comes back asking to wait

A post without an event id (the agent blocked, a script) is a denied verdict: no account.
"""

from __future__ import annotations

import logging

from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.core import context
from django import forms
from django.db import DatabaseError, transaction

from risk.verdict import (
    SignupThrottledError,
    Verdict,
    signup_account_failed,
    signup_account_record,
    signup_verdict,
)

logger = logging.getLogger(__name__)

DENIED = "We could not create your account. If you think this is a mistake, contact support "
DENIED += "and quote this reference: %(reference)s."
UNAVAILABLE = "We could not check this signup right now. Please try again in a few seconds."
THROTTLED = "Too many signups from here. Please wait a while and try again."


class SignupForm(AllauthSignupForm):
    fingerprint_event_id = forms.CharField(widget=forms.HiddenInput, required=False)
    fingerprint_sealed_result = forms.CharField(
        widget=forms.HiddenInput, required=False, max_length=65536
    )

    fingerprint_verdict: Verdict | None = None

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.errors:
            return cleaned  # allauth's own errors first: they cost no call to Fingerprint
        try:
            verdict = signup_verdict(
                context.request,
                event_id=cleaned.get("fingerprint_event_id") or "",
                username=cleaned.get("username") or cleaned.get("email") or "",
                email=cleaned.get("email") or "",
                sealed_result=cleaned.get("fingerprint_sealed_result") or "",
                endpoint="allauth",
            )
        except SignupThrottledError as exc:
            raise forms.ValidationError(THROTTLED, code="throttled") from exc
        if verdict.denied:
            if verdict.retry_after is not None:
                raise forms.ValidationError(UNAVAILABLE, code="fingerprint_unavailable")
            raise forms.ValidationError(
                DENIED, code="signup_denied", params={"reference": verdict.reference}
            )
        self.fingerprint_verdict = verdict
        return cleaned

    def try_save(self, request):
        # The email has an account already and allauth, preventing enumeration, answers as if
        # it had created one: it creates none, so the device keeps its slot.
        if self.account_already_exists and self.fingerprint_verdict is not None:
            self._account_failed(reason="username_taken")
        return super().try_save(request)

    def save(self, request):
        verdict = self.fingerprint_verdict
        try:
            with transaction.atomic():  # the account and its link: never one without the other
                user = super().save(request)
                if not verdict.account_active:
                    user.is_active = False
                    user.save(update_fields=["is_active"])
                signup_account_record(verdict, account=user)
        except Exception:
            self._account_failed(reason="account_failed")
            raise
        return user

    def _account_failed(self, *, reason: str) -> None:
        verdict = self.fingerprint_verdict
        try:
            signup_account_failed(verdict, reason=reason)
        except DatabaseError:
            logger.exception("signup %s: account not created", verdict.reference)

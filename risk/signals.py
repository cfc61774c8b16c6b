"""Signals host code can connect to (all sent after the transaction commits).

signup_decided(sender=SignupAttempt, attempt, account)
    once per signup decision (allow, review, deny, unverified), from accounts.services.
review_decided(sender=ReviewDecision, decision, effects)
    once per reviewer decision; `effects` are the audit rows a device block or unblock wrote
    for the attempts and accounts it changed (empty otherwise).
"""

from django.dispatch import Signal

signup_decided = Signal()
review_decided = Signal()

"""Throwaway mailboxes: is an email's domain a disposable one?

The list is the `disposable-email-domains` package's (kept by its community, updated with each
release), plus the host's own additions (RISK_DISPOSABLE_EMAIL_DOMAINS), minus its exemptions
(RISK_DISPOSABLE_EMAIL_EXEMPT). A subdomain of a listed domain is listed too: throwaway
services hand out `anything.mailinator.com`.
"""

from __future__ import annotations

from disposable_email_domains import blocklist

from risk.conf import RiskSettings


def email_domain(email: str) -> str:
    """ "Ann@Mail.Example.com" -> "mail.example.com"; "" when there is none."""
    return (email or "").rpartition("@")[2].strip().strip(".").lower()


def _suffixes(domain: str) -> list[str]:
    """ "a.b.example.com" -> ["a.b.example.com", "b.example.com", "example.com"] (not "com")."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def disposable_domain(domain: str, cfg: RiskSettings) -> bool:
    """The domain (or a parent of it) is a throwaway-mailbox domain, and not exempt."""
    if not domain:
        return False
    suffixes = _suffixes(domain)
    exempt = {d.lower().strip(".") for d in cfg.disposable_email_exempt}
    if any(s in exempt for s in suffixes):
        return False
    extra = {d.lower().strip(".") for d in cfg.disposable_email_domains}
    return any(s in blocklist or s in extra for s in suffixes)

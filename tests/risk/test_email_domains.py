"""risk/email_domains.py: an email's domain, and whether it is a throwaway mailbox's (the
community list, plus the host's own additions, minus its exemptions; subdomains included)."""

import pytest

from risk.conf import risk_settings
from risk.email_domains import disposable_domain, email_domain


@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("Ann@Mail.Example.com", "mail.example.com"),
        ("ann@example.com.", "example.com"),
        ("no-at-sign.example", "no-at-sign.example"),
        ("", ""),
        (None, ""),
    ],
)
def test_the_domain_of_an_email(email, domain):
    assert email_domain(email) == domain


def test_listed_domains_and_their_subdomains_are_throwaway_ones():
    cfg = risk_settings()
    assert disposable_domain("mailinator.com", cfg)
    assert disposable_domain("anything.mailinator.com", cfg)  # handed out by the service
    assert not disposable_domain("gmail.com", cfg)
    assert not disposable_domain("shopmailinator.com", cfg)  # a suffix of text is no parent
    assert not disposable_domain("mailinator.com.example.org", cfg)
    assert not disposable_domain("com", cfg) and not disposable_domain("", cfg)


def test_the_hosts_additions_and_exemptions(settings):
    settings.RISK_DISPOSABLE_EMAIL_DOMAINS = ["Trial-Mail.example."]
    settings.RISK_DISPOSABLE_EMAIL_EXEMPT = ["mailinator.com"]
    cfg = risk_settings()
    assert disposable_domain("a.trial-mail.example", cfg)
    assert not disposable_domain("mailinator.com", cfg)
    assert not disposable_domain("x.mailinator.com", cfg)  # the exemption covers subdomains

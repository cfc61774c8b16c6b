"""The Fingerprint transport honours the proxy environment (read once, at construction)."""

import pytest

from risk.fingerprint.errors import NotFoundError, UnavailableError
from risk.fingerprint.transport import BudgetedTransport
from tests.support.upstream import not_found_server


@pytest.fixture
def proxy():
    """A stand-in HTTP proxy: records each request line, answers 404 in Fingerprint's shape."""
    with not_found_server() as (url, seen):
        yield url, seen


def transport() -> BudgetedTransport:
    # an address nothing listens on: only the proxy can answer
    return BudgetedTransport(
        base_url="http://fingerprint.invalid:9", headers={}, service="Fingerprint"
    )


def test_requests_go_through_the_configured_proxy(proxy, monkeypatch):
    url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(NotFoundError):
        transport().request("GET", "/v4/events/abc", budget_s=2, params={"x": "1 2"})
    assert seen == ["http://fingerprint.invalid:9/v4/events/abc?x=1+2"]


def test_no_proxy_bypasses_it(proxy, monkeypatch):
    url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.setenv("NO_PROXY", "fingerprint.invalid")
    with pytest.raises(UnavailableError):  # direct, and the .invalid host does not resolve
        transport().request("GET", "/v4/events/abc", budget_s=0.5)
    assert seen == []


def test_all_proxy_is_used_too(proxy, monkeypatch):
    url, seen = proxy
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ALL_PROXY", url)
    with pytest.raises(NotFoundError):
        transport().request("GET", "/v4/events/abc", budget_s=2)
    assert seen == ["http://fingerprint.invalid:9/v4/events/abc"]

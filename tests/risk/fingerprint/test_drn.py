"""The DRN client over real HTTP against the sandbox, and its lenient parser."""

import threading
import time
from datetime import UTC, datetime

import pytest

from risk.fingerprint.drn import DrnClient, flatten_signals, parse_drn
from risk.fingerprint.errors import (
    AuthError,
    NotFoundError,
    RateLimitedError,
    RequestError,
    UnavailableError,
)
from risk.fingerprint.rate_limit import ProcessRateLimiter
from tests.conftest import SANDBOX_KEY, drn_calls, settle


def make_client(url, **kwargs):
    kwargs.setdefault("secret_key", SANDBOX_KEY)
    kwargs.setdefault("timeout_s", 2.0)
    return DrnClient(api_url=url, **kwargs)


def android_visitor(sandbox) -> str:
    # An odd age keeps these events out of other tests' time-window searches (shared sandbox).
    first = sandbox.create_event("android", age_s=11 * 86_400 + 437, ip="8.8.8.8")
    visitor = first["identification"]["visitor_id"]
    sandbox.create_event("farm", visitor_id=visitor, ip="178.62.10.10")
    return visitor


def test_all_three_signals(sandbox, sandbox_server):
    visitor = android_visitor(sandbox)
    result = make_client(sandbox_server.url).lookup(visitor)
    assert result.visitor_id == visitor
    assert set(result.raw["data"]) == {"regionalActivity", "suspectScore", "timestamps"}
    codes = {country.code for country in result.countries}
    assert len(codes) >= 1
    for country in result.countries:
        assert 0 <= country.ip <= 1 and 0 <= country.origin <= 1
    assert result.location_masked is False  # no VPN: every origin country also shows by IP
    assert result.min_score.value == 0 and result.min_score.signals == {}
    assert result.max_score.value == 14
    assert result.max_score.flat_signals == {"emulator": 8, "rootApps": 3, "highActivity": 3}
    assert result.max_percentile == 0.75
    assert result.first_seen_at < result.last_seen_at <= datetime.now(UTC)
    assert result.activity_start < result.activity_end


def test_vpn_user_shows_masked_location_and_nested_signals(sandbox, sandbox_server):
    event = sandbox.create_event(
        "android",
        ip="178.62.1.2",
        overrides={"vpn": True, "vpn_origin_country": "BR", "vpn_methods": {"public_vpn": True}},
    )
    result = make_client(sandbox_server.url).lookup(event["identification"]["visitor_id"])
    by_code = {country.code: country for country in result.countries}
    assert (by_code["NL"].ip, by_code["NL"].origin) == (1.0, 0.0)
    assert (by_code["BR"].ip, by_code["BR"].origin) == (0.0, 1.0)
    assert by_code["BR"].masked and not by_code["NL"].masked
    assert result.location_masked is True
    assert result.max_score.signals == {"vpn": {"publicVPN": 5}}
    assert result.max_score.flat_signals == {"vpn.publicVPN": 5}


def test_subset_of_signals(sandbox, sandbox_server):
    visitor = android_visitor(sandbox)
    result = make_client(sandbox_server.url).lookup(visitor, signals=["timestamps"])
    assert set(result.raw["data"]) == {"timestamps"}
    assert result.first_seen_at is not None
    assert result.countries is None and result.location_masked is None
    assert result.min_score is None and result.max_score is None and result.max_percentile is None
    both = make_client(sandbox_server.url).lookup(
        visitor, signals=("regional_activity", "suspect_score")
    )
    assert set(both.raw["data"]) == {"regionalActivity", "suspectScore"}
    assert both.first_seen_at is None and both.max_score.value == 14


def test_unknown_visitor_is_not_found(sandbox, sandbox_server):
    with pytest.raises(NotFoundError) as info:
        make_client(sandbox_server.url).lookup("unknownvisitor000000")
    assert info.value.status == 404 and info.value.code == "http.not_found"


def test_browser_visitor_is_unknown_to_drn(sandbox, sandbox_server):
    visitor = sandbox.create_event("human")["identification"]["visitor_id"]
    with pytest.raises(NotFoundError):
        make_client(sandbox_server.url).lookup(visitor)


def test_invalid_key_is_a_clear_auth_error(sandbox, sandbox_server):
    visitor = android_visitor(sandbox)
    with pytest.raises(AuthError) as info:
        make_client(sandbox_server.url, secret_key="not-the-key").lookup(visitor)
    assert info.value.status == 401 and info.value.code == "secret_key_not_found"
    assert "DRN answered 401 secret_key_not_found" in str(info.value)
    assert "not-the-key" not in str(info.value)


def test_invalid_signals_is_a_request_error(sandbox, sandbox_server):
    visitor = android_visitor(sandbox)
    with pytest.raises(RequestError) as info:
        make_client(sandbox_server.url).lookup(visitor, signals=["timestamps", "bogus"])
    assert info.value.status == 400 and info.value.code == "invalid_signals_parameter"


def test_429_then_success_is_retried(sandbox, sandbox_server):
    visitor = android_visitor(sandbox)
    sandbox.set_faults(target="drn", status=429, count=1)
    before = drn_calls(sandbox)
    result = make_client(sandbox_server.url).lookup(visitor)
    assert result.max_score.value == 14
    assert drn_calls(sandbox) - before == 2  # one 429, one success


def test_persistent_429_is_rate_limited_within_budget(sandbox, sandbox_server):
    visitor = android_visitor(sandbox)
    sandbox.set_faults(target="drn", status=429)
    started = time.monotonic()
    with pytest.raises(RateLimitedError) as info:
        make_client(sandbox_server.url, timeout_s=1.0, max_retries=5).lookup(visitor)
    assert time.monotonic() - started < 1.5
    assert info.value.status == 429


def test_5xx_then_success_is_retried(sandbox, sandbox_server):
    visitor = android_visitor(sandbox)
    sandbox.set_faults(target="drn", status=503, count=2)
    assert make_client(sandbox_server.url, max_retries=2).lookup(visitor).max_score.value == 14


def test_slow_drn_times_out_within_the_budget(sandbox, sandbox_server):
    visitor = android_visitor(sandbox)
    sandbox.set_faults(target="drn", latency_ms=1500)
    before = drn_calls(sandbox)
    started = time.monotonic()
    with pytest.raises(UnavailableError) as info:
        make_client(sandbox_server.url).lookup(visitor, budget_s=0.3)
    elapsed = time.monotonic() - started
    assert info.value.code == "timeout"
    assert elapsed < 0.3 + 0.4
    settle(sandbox, calls_before=before)


def test_no_slot_from_the_limiter_within_budget_makes_no_request(sandbox, sandbox_server):
    visitor = android_visitor(sandbox)
    limiter = ProcessRateLimiter(1)
    assert limiter.acquire(timeout=0)  # the only slot of this second is taken
    client = make_client(sandbox_server.url, limiter=limiter)
    before = drn_calls(sandbox)
    with pytest.raises(RateLimitedError) as info:
        client.lookup(visitor, budget_s=0.3)
    assert info.value.code == "client_rate_limited"
    assert drn_calls(sandbox) == before


def run_threads(client, visitor, *, threads: int, each: int):
    errors, results = [], []

    def worker():
        for _ in range(each):
            try:
                results.append(client.lookup(visitor, signals=["timestamps"], budget_s=5))
            except Exception as exc:  # collected and asserted by the caller
                errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return results, errors


def test_shared_limiter_keeps_many_threads_under_drns_quota(sandbox, sandbox_server):
    """DRN allows 20 rps with a burst of 5 here. 8 threads sharing one 10 rps limiter, never
    retrying, never see a 429 (headroom for a busy machine delaying some requests); the same
    threads without the limiter do."""
    visitor = android_visitor(sandbox)
    sandbox.set_faults(drn_rps=20, drn_burst=5)
    limited = make_client(sandbox_server.url, max_retries=0, limiter=ProcessRateLimiter(10))
    before = sandbox.stats()["statuses"].get("drn", {})
    results, errors = run_threads(limited, visitor, threads=8, each=2)
    after = sandbox.stats()["statuses"]["drn"]
    assert errors == []
    assert len(results) == 16
    assert after.get("429", 0) == before.get("429", 0)
    assert after["200"] - before.get("200", 0) == 16

    sandbox.set_faults(drn_rps=20, drn_burst=5)  # a full bucket again
    unlimited = make_client(sandbox_server.url, max_retries=0)
    results, errors = run_threads(unlimited, visitor, threads=8, each=4)
    assert errors and all(isinstance(exc, RateLimitedError) for exc in errors)


# --- parsing, no network ---------------------------------------------------------------------


def test_flatten_nested_signals():
    signals = {"vpn": {"publicVPN": 5, "relay": {"icloud": 2}}, "emulator": 8, "odd": "x"}
    assert flatten_signals(signals) == {
        "vpn.publicVPN": 5,
        "vpn.relay.icloud": 2,
        "emulator": 8,
        "odd": "x",
    }
    assert flatten_signals(None) == {} and flatten_signals([1]) == {}


def test_inactive_device_parses_to_zero_values():
    body = {
        "data": {
            "regionalActivity": {"startDate": "2026-10-24T12:00:00Z", "countries": []},
            "suspectScore": {
                "minimum": {"value": 0, "signals": {}},
                "maximum": {"value": 0, "percentile": 0, "signals": {}},
            },
            "timestamps": {"firstSeenAt": None, "lastSeenAt": None},
        }
    }
    result = parse_drn(body, visitor_id="v")
    assert result.countries == () and result.location_masked is False
    assert result.min_score.value == 0 and result.max_score.value == 0
    assert result.max_percentile == 0
    assert result.first_seen_at is None and result.activity_end is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"data": None},
        {"data": {"regionalActivity": None, "suspectScore": "x", "timestamps": []}},
        {"data": {"suspectScore": {"maximum": {"value": "12", "percentile": "0.5"}}}},
    ],
)
def test_missing_or_odd_parts_never_raise(body):
    result = parse_drn(body, visitor_id="v")
    assert result.countries is None and result.first_seen_at is None
    if result.max_score is not None:
        assert result.max_score.value == 12 and result.max_percentile == 0.5


def test_odd_countries_are_cleaned_up():
    body = {
        "data": {
            "regionalActivity": {
                "countries": [
                    {"code": "us", "detectors": [{"type": "ip", "activityPercentage": 0.6}]},
                    {"code": "US", "detectors": [{"type": "origin", "activityPercentage": 2}]},
                    {"code": "", "detectors": [{"type": "ip", "activityPercentage": 0.4}]},
                    {"code": "CA", "detectors": [{"type": "wifi", "activityPercentage": 0.4}]},
                    "garbage",
                ]
            },
            "timestamps": {"firstSeenAt": "2026-11-23T11:58:00Z", "lastSeenAt": "nope"},
        }
    }
    result = parse_drn(body, visitor_id="v")
    assert [c.as_dict() for c in result.countries] == [
        {"code": "US", "ip": 0.6, "origin": 1.0},
        {"code": "CA", "ip": 0.0, "origin": 0.0},
    ]
    assert result.location_masked is False
    assert result.first_seen_at == datetime(2026, 11, 23, 11, 58, tzinfo=UTC)
    assert result.last_seen_at is None

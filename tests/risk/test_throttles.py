"""Signup throttles (risk/throttles.py): per client network and per device, shared through
the cache; on by default, keyed without the values, failing open (loudly) when the cache is
down."""

import subprocess
import sys
import textwrap

import pytest
from rest_framework.test import APIClient

from risk.models import SignupAttempt
from tests.support.redis_celery import ROOT, subprocess_env

pytestmark = [pytest.mark.django_db]
PASSWORD = "correct-horse-battery-9"


def post(api, body=None, **headers):
    return api.post("/api/signup", body or {}, format="json", **headers)


def check_ip_throttle(settings):
    settings.SIGNUP_THROTTLE_RATE = "3/hour"
    api = APIClient(REMOTE_ADDR="203.0.113.7")
    # Invalid bodies are counted too: the reference API's throttle runs before parsing.
    assert [post(api).status_code for _ in range(3)] == [400, 400, 400]
    response = post(api)
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 3600
    # Another client is not affected.
    assert post(APIClient(REMOTE_ADDR="203.0.113.8")).status_code == 400


def test_ip_throttle_database_cache(settings):
    check_ip_throttle(settings)


def test_ip_throttle_redis_cache(redis_settings):
    check_ip_throttle(redis_settings)


def test_ip_throttle_uses_the_trusted_client_ip_not_the_spoofable_one(redis_settings):
    redis_settings.SIGNUP_THROTTLE_RATE = "2/hour"
    redis_settings.RISK_TRUSTED_PROXY_COUNT = 1
    api = APIClient(REMOTE_ADDR="10.0.0.1")  # the proxy
    # The client rotates the left-most (its own) entry; the proxy appends the real address.
    codes = [
        post(api, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}, 203.0.113.9").status_code for i in range(3)
    ]
    assert codes == [400, 400, 429]
    # A different real client behind the same proxy has its own budget.
    assert post(api, HTTP_X_FORWARDED_FOR="203.0.113.10").status_code == 400


def test_every_address_of_one_ipv6_64_shares_one_allowance(settings):
    settings.SIGNUP_THROTTLE_RATE = "3/hour"
    codes = [
        post(APIClient(REMOTE_ADDR=f"2001:db8:aa:bb::{n + 1:x}")).status_code for n in range(5)
    ]
    assert codes == [400, 400, 400, 429, 429]
    assert post(APIClient(REMOTE_ADDR="2001:db8:aa:bc::1")).status_code == 400  # the next /64


def test_a_host_that_sets_no_rate_gets_the_documented_one(settings):
    """The defaults live in code: with the settings unset (as on a host that never heard of
    them), 300 signups an hour per network."""
    del settings.SIGNUP_THROTTLE_RATE, settings.SIGNUP_THROTTLE_VISITOR_RATE
    api = APIClient(REMOTE_ADDR="203.0.113.40")
    codes = [post(api).status_code for _ in range(301)]
    assert codes[:300] == [400] * 300 and codes[300] == 429


def test_keys_hold_a_keyed_hash_never_the_address(settings):
    import hashlib

    from django.db import connection

    settings.SIGNUP_THROTTLE_RATE = "3/hour"
    post(APIClient(REMOTE_ADDR="203.0.113.41"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key FROM fpdjango_cache")
        keys = [row[0] for row in cursor.fetchall() if "throttle" in row[0]]
    assert keys
    plain = hashlib.sha256(b"203.0.113.41").hexdigest()[:24]
    assert not [k for k in keys if "203.0.113.41" in k or plain in k]


def test_cache_down_lets_signups_through_loudly(settings, caplog):
    from risk.observability import CACHE_ERRORS

    settings.SIGNUP_THROTTLE_RATE = "1/hour"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    before = CACHE_ERRORS.labels("throttle")._value.get()
    api = APIClient(REMOTE_ADDR="203.0.113.11")
    with caplog.at_level("ERROR", logger="risk.throttles"):
        assert [post(api).status_code for _ in range(3)] == [400, 400, 400]
    assert [r.levelname for r in caplog.records if r.name == "risk.throttles"] == ["ERROR"] * 3
    assert CACHE_ERRORS.labels("throttle")._value.get() - before == 3


def test_visitor_throttle_refuses_the_device_before_any_write(redis_settings, sandbox):
    redis_settings.SIGNUP_THROTTLE_VISITOR_RATE = "2/hour"
    first = sandbox.create_event(profile="human", ip="127.0.0.1")
    visitor = first["identification"]["visitor_id"]
    events = [first] + [
        sandbox.create_event(profile="human", ip="127.0.0.1", visitor_id=visitor) for _ in range(2)
    ]
    api = APIClient(REMOTE_ADDR="127.0.0.1")
    responses = [
        post(api, {"event_id": e["event_id"], "username": f"visitor{i}", "password": PASSWORD})
        for i, e in enumerate(events)
    ]
    codes = [r.status_code for r in responses]
    # the second account of a household device is held; the third is throttled before a write
    assert codes == [201, 201, 429], [r.json() for r in responses]
    assert responses[1].json()["status"] == "pending_review"
    assert responses[2].json()["code"] == "throttled"
    assert int(responses[2]["Retry-After"]) >= 1
    assert SignupAttempt.objects.filter(visitor_id=visitor).count() == 2
    # Another device is not affected.
    other = sandbox.create_event(profile="human", ip="127.0.0.1")
    body = {"event_id": other["event_id"], "username": "visitor9", "password": PASSWORD}
    response = post(api, body)
    assert response.status_code == 201


HAMMER = textwrap.dedent(
    """
    import django, sys
    django.setup()
    from risk.throttles import _hit
    allowed = sum(_hit("ip", "198.51.100.77", "40/hour") is None for _ in range(30))
    print(allowed)
    """
)


def test_limit_holds_across_processes(redis_url, redis_prefix):
    """Two processes, 30 requests each, a limit of 40: 40 allowed in total, not 2 x 40."""
    env = subprocess_env(redis_url=redis_url, prefix=redis_prefix)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", HAMMER], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    allowed = [int(p.communicate(timeout=60)[0].strip().splitlines()[-1]) for p in procs]
    assert sum(allowed) == 40, allowed

import pytest

from risk.client_ip import client_ip_from_meta


@pytest.mark.parametrize(
    ("meta", "proxies", "expected"),
    [
        ({"REMOTE_ADDR": "198.51.100.7"}, 0, "198.51.100.7"),
        # No trusted proxy: X-Forwarded-For is the client's own claim and is ignored.
        ({"REMOTE_ADDR": "198.51.100.7", "HTTP_X_FORWARDED_FOR": "1.1.1.1"}, 0, "198.51.100.7"),
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}, 1, "203.0.113.5"),
        # The client spoofs a left-most entry; one trusted proxy appended the real address.
        (
            {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.5"},
            1,
            "203.0.113.5",
        ),
        (
            {"REMOTE_ADDR": "10.0.0.3", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.5, 10.0.0.2"},
            2,
            "203.0.113.5",
        ),
        ({"REMOTE_ADDR": "10.0.0.2"}, 1, "10.0.0.2"),
        # Fewer entries than proxies: a proxy was skipped, so the header proves nothing.
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6"}, 2, "10.0.0.2"),
        ({"REMOTE_ADDR": "::ffff:192.0.2.1"}, 0, "192.0.2.1"),
        (
            {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "[2001:db8::1]:443"},
            1,
            "2001:db8::1",
        ),
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "garbage"}, 1, ""),
        # A link-local peer's zone names our interface: the stored address has none.
        ({"REMOTE_ADDR": "fe80::1%eth0"}, 0, "fe80::1"),
    ],
)
def test_client_ip(meta, proxies, expected):
    assert client_ip_from_meta(meta, trusted_proxy_count=proxies) == expected


@pytest.mark.django_db
def test_a_signup_resolves_its_client_ip_once_for_the_throttle_and_the_attempt(
    sandbox, settings, monkeypatch
):
    from rest_framework.test import APIClient

    from risk import client_ip
    from risk.models import SignupAttempt

    settings.RISK_TRUSTED_PROXY_COUNT = 1
    settings.SIGNUP_THROTTLE_RATE = "100/hour"  # the IP throttle asks for it first
    calls = []
    original = client_ip.client_ip_from_meta
    monkeypatch.setattr(
        client_ip, "client_ip_from_meta", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    event = sandbox.create_event("human", ip="203.0.113.5")
    response = APIClient(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5").post(
        "/api/signup",
        {"event_id": event["event_id"], "username": "once", "password": "correct-horse-9"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert SignupAttempt.objects.get().client_ip == "203.0.113.5"
    assert len(calls) == 1

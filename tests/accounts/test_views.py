"""POST /api/signup end to end: the API in-process, Fingerprint over real HTTP (sandbox)."""

import logging

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from accounts.hashers import TunableArgon2PasswordHasher
from risk.models import Device, FingerprintEvent, SignupAttempt
from risk.selectors import REFERENCE_SHAPE
from tests.support.review import signup as review_signup

pytestmark = [pytest.mark.django_db]
User = get_user_model()
PASSWORD = "correct-horse-battery-9"
WELL_FORMED_ID = "1700000000000.abcdef"  # the shape of a Fingerprint id, never created


@pytest.fixture
def api():
    return APIClient(REMOTE_ADDR="127.0.0.1")


@pytest.fixture
def hash_calls(monkeypatch):
    """Counts every password hash computed during the test."""
    calls = []
    original = TunableArgon2PasswordHasher.encode

    def counting_encode(self, password, salt):
        calls.append(1)
        return original(self, password, salt)

    monkeypatch.setattr(TunableArgon2PasswordHasher, "encode", counting_encode)
    return calls


def signup(api, event_id, username="alice", password=PASSWORD, **extra):
    return api.post(
        "/api/signup",
        {"event_id": event_id, "username": username, "password": password, **extra},
        format="json",
    )


def new_event(sandbox, profile="human", **fields):
    fields.setdefault("ip", "127.0.0.1")
    return sandbox.create_event(profile=profile, **fields)


def test_human_signs_up_and_everything_is_stored(api, sandbox, hash_calls):
    event = new_event(sandbox)
    response = signup(api, event["event_id"], email="alice@example.com")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "created"
    assert body["account"]["username"] == "alice"
    user = User.objects.get(username="alice")
    assert user.is_active
    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password(PASSWORD)
    assert user.signup_attempt.device.visitor_id == event["identification"]["visitor_id"]
    attempt = SignupAttempt.objects.get(reference=body["reference"])
    assert attempt.decision == "allow" and attempt.account == user
    assert attempt.checks["event_found"] == "passed" and attempt.checks["ip"] == "passed"
    snapshot = FingerprintEvent.objects.get(event_id=event["event_id"])
    assert snapshot.raw == event  # the raw JSON, untouched
    assert snapshot.visitor_id == event["identification"]["visitor_id"]
    assert len(hash_calls) == 1


def test_second_account_from_a_household_device_is_held_not_denied(api, sandbox, hash_calls):
    first = new_event(sandbox)
    assert signup(api, first["event_id"]).status_code == 201
    second = new_event(sandbox, visitor_id=first["identification"]["visitor_id"])
    response = signup(api, second["event_id"], username="alice2")
    assert response.status_code == 201 and response.json()["status"] == "pending_review"
    attempt = SignupAttempt.objects.get(reference=response.json()["reference"])
    assert attempt.reasons == ["device_shared"] and attempt.review_status == "pending"
    assert attempt.facts["device_accounts"] == 1 and attempt.facts["same_network"] is True
    assert not User.objects.get(username="alice2").is_active
    assert Device.objects.get().account_count == 2


def test_second_account_from_another_network_is_denied_without_hashing(
    sandbox, settings, hash_calls
):
    """A same-device farm behind rotating proxies: the device's earlier signup came from
    another network."""
    settings.RISK_TRUSTED_PROXY_COUNT = 1
    home = APIClient(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="73.45.1.10")
    first = new_event(sandbox, ip="73.45.1.10")
    assert signup(home, first["event_id"]).status_code == 201
    hash_calls.clear()
    proxy = APIClient(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="81.98.7.7")
    second = new_event(sandbox, ip="81.98.7.7", visitor_id=first["identification"]["visitor_id"])
    response = signup(proxy, second["event_id"], username="alice2")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "signup_denied" and body["reference"]
    assert "device_limit" not in str(body)  # reasons are for staff only
    attempt = SignupAttempt.objects.get(reference=body["reference"])
    assert attempt.reasons == ["device_limit"]
    assert attempt.facts["farm_signals"] == ["network_changed"]
    assert not User.objects.filter(username="alice2").exists()
    assert hash_calls == []
    assert Device.objects.get().account_count == 1


def test_strict_mode_denies_the_second_account_like_the_seed(api, sandbox, settings, hash_calls):
    settings.RISK_DEVICE_LIMIT_STRICT = True
    first = new_event(sandbox)
    assert signup(api, first["event_id"]).status_code == 201
    hash_calls.clear()
    second = new_event(sandbox, visitor_id=first["identification"]["visitor_id"])
    response = signup(api, second["event_id"], username="alice2")
    assert response.status_code == 403
    assert SignupAttempt.objects.get(reference=response.json()["reference"]).reasons == [
        "device_limit"
    ]
    assert hash_calls == []


def test_bad_bot_is_denied_without_hashing(api, sandbox, hash_calls):
    response = signup(api, new_event(sandbox, "bad_bot")["event_id"])
    assert response.status_code == 403
    assert SignupAttempt.objects.get().reasons[0] == "bot_bad"
    assert User.objects.count() == 0
    assert hash_calls == []


def test_reused_event_id_is_refused(api, sandbox):
    event = new_event(sandbox)
    assert signup(api, event["event_id"]).status_code == 201
    response = signup(api, event["event_id"], username="mallory")
    assert response.status_code == 403
    reused = SignupAttempt.objects.get(reference=response.json()["reference"])
    assert "event_reused" in reused.reasons
    assert FingerprintEvent.objects.count() == 1


def test_event_id_burnt_even_when_first_attempt_was_denied(api, sandbox):
    event = new_event(sandbox, "bad_bot")
    assert signup(api, event["event_id"]).status_code == 403
    response = signup(api, event["event_id"], username="bob")
    assert (
        "event_reused" in SignupAttempt.objects.get(reference=response.json()["reference"]).reasons
    )


def test_replayed_event_is_refused(api, sandbox):
    response = signup(api, new_event(sandbox, replayed=True)["event_id"])
    assert response.status_code == 403
    assert "event_replayed" in SignupAttempt.objects.get().reasons


def test_stale_event_is_refused(api, sandbox, settings):
    settings.RISK_MAX_EVENT_AGE_S = 60
    response = signup(api, new_event(sandbox, age_s=120)["event_id"])
    assert response.status_code == 403
    assert "event_stale" in SignupAttempt.objects.get().reasons


def test_unknown_event_is_refused_and_not_burnt(api, sandbox):
    response = signup(api, "1700000000000.forged")
    assert response.status_code == 403
    attempt = SignupAttempt.objects.get()
    assert attempt.reasons == ["event_not_found"] and attempt.claimed_event_id is None


@pytest.mark.parametrize("profile", ["tor", "good_bot"])
def test_suspicious_signup_is_held_for_review(api, sandbox, profile):
    response = signup(api, new_event(sandbox, profile)["event_id"])
    assert response.status_code == 201
    assert response.json()["status"] == "pending_review"
    user = User.objects.get()
    assert not user.is_active  # held until a reviewer approves
    attempt = SignupAttempt.objects.get()
    assert attempt.decision == "review" and attempt.review_status == "pending"


def test_ip_mismatch_goes_to_review(api, sandbox):
    response = signup(api, new_event(sandbox, ip="203.0.113.50")["event_id"])
    assert response.json()["status"] == "pending_review"
    assert "ip_mismatch" in SignupAttempt.objects.get().reasons


def test_ip_taken_from_trusted_proxy_header(sandbox, settings):
    settings.RISK_TRUSTED_PROXY_COUNT = 1
    api = APIClient(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.50")
    response = signup(api, new_event(sandbox, ip="203.0.113.50")["event_id"])
    assert response.json()["status"] == "created"
    assert SignupAttempt.objects.get().client_ip == "203.0.113.50"


def test_origin_allow_list(api, sandbox, settings):
    settings.RISK_ALLOWED_ORIGINS = ["https://shop.example"]
    ok = new_event(sandbox, url="https://shop.example/signup")
    assert signup(api, ok["event_id"], HTTP_ORIGIN="https://shop.example").status_code == 201
    foreign = new_event(sandbox, url="https://evil.example/")
    assert signup(api, foreign["event_id"], username="eve").status_code == 403


def test_seed_compatible_endpoint_accepts_request_id(api, sandbox):
    event = new_event(sandbox)
    response = api.post(
        "/api/create-account",
        {"requestId": event["event_id"], "username": "carol", "password": PASSWORD},
        format="json",
    )
    assert response.status_code == 201
    assert SignupAttempt.objects.get().endpoint == "create-account"


def assert_nothing_written():
    assert SignupAttempt.objects.count() == 0
    assert User.objects.count() == 0
    assert FingerprintEvent.objects.count() == 0
    assert Device.objects.count() == 0


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ({"username": "dave", "password": PASSWORD}, "event_id", "required"),
        (
            {"event_id": "x y", "username": "dave", "password": PASSWORD},
            "event_id",
            "invalid_event_id",
        ),
        ({"event_id": WELL_FORMED_ID, "password": PASSWORD}, "username", "required"),
        (
            {"event_id": WELL_FORMED_ID, "username": "da ve!", "password": PASSWORD},
            "username",
            "invalid",
        ),
        (
            {"event_id": WELL_FORMED_ID, "username": "dave", "password": "123"},
            "password",
            "password_too_short",
        ),
        (
            {"event_id": WELL_FORMED_ID, "username": "dave", "password": "password"},
            "password",
            "password_too_common",
        ),
        (
            {"event_id": WELL_FORMED_ID, "username": "dave", "password": PASSWORD, "email": "no"},
            "email",
            "invalid",
        ),
    ],
)
def test_bad_input_is_400_with_codes_and_writes_nothing(api, sandbox, payload, field, code):
    response = api.post("/api/signup", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_input"
    assert code in [error["code"] for error in body["errors"][field]]
    assert_nothing_written()


def test_malformed_json_is_400(api):
    response = api.post("/api/signup", "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"
    assert_nothing_written()


@pytest.mark.parametrize("body", ["[" * 5000 + "]" * 5000, '{"a": NaN}', '{"a": 1e400}'])
def test_json_python_would_choke_on_or_accept_is_400(api, body):
    """Nesting deeper than the parser's recursion limit (it raises RecursionError, not a
    ValueError: once a 500) and non-standard numbers are parse errors, nothing written."""
    response = api.post("/api/signup", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"
    assert_nothing_written()


def test_wrong_content_type_is_415(api):
    response = api.post("/api/signup", "a=b", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"


def test_taken_username_case_insensitive(api, sandbox):
    assert signup(api, new_event(sandbox)["event_id"], username="Alice").status_code == 201
    response = signup(api, new_event(sandbox)["event_id"], username="alice")
    assert response.status_code == 400
    assert response.json()["errors"]["username"][0]["code"] == "username_taken"


def test_get_is_405(api):
    response = api.get("/api/signup")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


# --- Fingerprint down, slow or rate limiting --------------------------------------------------

FAULTS = [
    pytest.param({"latency_ms": 1500}, id="timeout"),
    pytest.param({"status": 500}, id="500"),
    pytest.param({"status": 429}, id="429"),
]


def test_vpn_user_is_allowed(api, sandbox):
    """Privacy is not fraud: a VPN alone is not a reason to hold anyone."""
    response = signup(api, new_event(sandbox, "vpn")["event_id"])
    assert response.status_code == 201 and response.json()["status"] == "created"


def test_anti_detect_browser_is_denied(api, sandbox):
    response = signup(api, new_event(sandbox, "tampering")["event_id"])
    assert response.status_code == 403
    assert "anti_detect_browser" in SignupAttempt.objects.get().reasons


@pytest.mark.parametrize("fault", FAULTS)
def test_policy_review_accepts_the_signup_unverified(api, sandbox, settings, fault):
    settings.FINGERPRINT_TIMEOUT_S = 0.4
    settings.FINGERPRINT_FAILURE_POLICY = "review"
    event = new_event(sandbox)
    sandbox.set_faults(target="events", **fault)
    response = signup(api, event["event_id"])
    assert response.status_code == 201
    assert response.json()["status"] == "pending_review"
    attempt = SignupAttempt.objects.get()
    assert attempt.reasons == ["fingerprint_unavailable"] and attempt.decision == "unverified"
    assert attempt.review_status == ""  # not reviewable until verified
    assert attempt.event_id == event["event_id"]  # kept for the verification
    # The id is claimed, so one made-up id backs one unverified account at most.
    assert attempt.claimed_event_id == event["event_id"] and attempt.fingerprint_error
    assert not User.objects.get().is_active
    again = signup(api, event["event_id"], username="alice_again")
    assert again.status_code == 403
    assert SignupAttempt.objects.get(reference=again.json()["reference"]).reasons == [
        "fingerprint_unavailable",
        "event_reused",
    ]


@pytest.mark.parametrize("fault", FAULTS)
def test_policy_deny_answers_503_with_retry_after(api, sandbox, settings, fault, hash_calls):
    settings.FINGERPRINT_TIMEOUT_S = 0.4
    settings.FINGERPRINT_FAILURE_POLICY = "deny"
    event = new_event(sandbox)
    sandbox.set_faults(target="events", **fault)
    response = signup(api, event["event_id"])
    assert response.status_code == 503
    assert response.json()["code"] == "fingerprint_unavailable"
    assert int(response["Retry-After"]) > 0
    assert User.objects.count() == 0 and hash_calls == []
    sandbox.clear_faults()
    # The event was not burnt: the same signup goes through once Fingerprint is back.
    assert signup(api, event["event_id"]).status_code == 201


def test_secret_key_never_in_logs_or_bodies(api, sandbox, settings, caplog):
    secret = "sk_live_DO_NOT_LEAK_4f9a"
    settings.FINGERPRINT_SECRET_API_KEY = secret  # wrong for the sandbox: an auth failure
    caplog.set_level(logging.DEBUG)
    bodies = [signup(api, new_event(sandbox)["event_id"]).content.decode()]
    settings.FINGERPRINT_TIMEOUT_S = 0.3
    sandbox.set_faults(target="events", latency_ms=800)
    bodies.append(signup(api, new_event(sandbox)["event_id"], username="bob").content.decode())
    sandbox.set_faults(target="events", status=500)
    bodies.append(signup(api, new_event(sandbox)["event_id"], username="carl").content.decode())
    stored = list(SignupAttempt.objects.values_list("fingerprint_error", flat=True))
    assert any("403" in error for error in stored)  # the auth failure was recorded...
    text = caplog.text + "".join(bodies) + "".join(stored)
    assert secret not in text  # ...without the key
    assert "Fingerprint rejected our credentials" in caplog.text


def test_event_with_garbage_and_unknown_values_is_stored_not_crashed(api, sandbox):
    event = new_event(
        sandbox,
        overrides={"ip_address": "not-an-ip", "bot": "brand_new_value", "vpn": "maybe"},
    )
    response = signup(api, event["event_id"])
    assert response.status_code == 201  # ip mismatch -> review, never a 500
    snapshot = FingerprintEvent.objects.get()
    assert snapshot.ip is None and snapshot.bot == "brand_new_value" and snapshot.vpn is None
    assert snapshot.raw["ip_address"] == "not-an-ip"
    assert "ip_mismatch" in SignupAttempt.objects.get().reasons


def test_taken_username_is_400_and_writes_nothing(api, sandbox):
    assert signup(api, new_event(sandbox)["event_id"], "Alice").status_code == 201
    second = new_event(sandbox)  # another device that may have an account
    response = signup(api, second["event_id"], "aLICE")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert response.json()["errors"]["username"][0]["code"] == "username_taken"
    # refused before anything: no attempt, no snapshot, no second user
    assert SignupAttempt.objects.count() == 1 and User.objects.count() == 1
    assert not FingerprintEvent.objects.filter(event_id=second["event_id"]).exists()
    # and the same event can still be used with a free username
    assert signup(api, second["event_id"], "alice-2").status_code == 201


def test_refusals_are_not_logged_per_request_but_other_4xx_are(api, sandbox, caplog):
    caplog.set_level(logging.INFO, logger="django.request")
    assert signup(api, new_event(sandbox, "bad_bot")["event_id"], "bot1").status_code == 403
    assert signup(api, "not an id!", "bot2").status_code == 400
    assert [r for r in caplog.records if r.name == "django.request"] == []
    assert api.get("/api/no-such-endpoint").status_code == 404
    assert [r.status_code for r in caplog.records if r.name == "django.request"] == [404]


@pytest.mark.django_db
def test_every_answer_carries_the_opaque_reference(sandbox, settings):
    created, first = review_signup(sandbox, "human")
    denied, bot = review_signup(sandbox, "bad_bot")
    settings.FINGERPRINT_FAILURE_POLICY = "deny"
    sandbox.set_faults(target="events", status=503)
    unavailable = APIClient(REMOTE_ADDR="127.0.0.1").post(
        "/api/signup",
        {
            "event_id": "1700000000000.abcdef",
            "username": "later",
            "password": "correct-horse-battery-9",
        },
        format="json",
    )
    assert (created.status_code, denied.status_code, unavailable.status_code) == (201, 403, 503)
    references = [r.json()["reference"] for r in (created, denied, unavailable)]
    attempts = [SignupAttempt.objects.get(reference=ref) for ref in references]
    assert [a.pk for a in attempts[:2]] == [first.pk, bot.pk]
    for reference, attempt in zip(references, attempts, strict=True):
        assert REFERENCE_SHAPE.match(reference)
        assert reference != str(attempt.pk) and not reference.isdigit()
    assert len(set(references)) == 3

"""risk/storable.py, and every write path with text no database can store (a NUL, a lone
surrogate) in client-controlled event fields: the evidence is kept, with what was replaced
said beside it; and a batch job skips an item that fails, counts it, and goes on."""

from __future__ import annotations

import io
import json
import sqlite3

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from risk import rules
from risk.models import DrnSnapshot, FingerprintEvent, SignupAttempt
from risk.services import verification
from risk.services.webhooks import event_webhook_store
from risk.storable import REPLACEMENT, storable_json, storable_text

PASSWORD = "correct-horse-battery-9"
NUL, SURROGATE = "\x00", "\ud800"
HOSTILE = {
    "tags": {"note": f"a{NUL}b", f"k{SURROGATE}": "v"},
    "linked_id": f"x{SURROGATE}y",
    "url": f"https://shop.example/signup?q={NUL}",
}
REPLACED = {"tags.note", f"tags.k{REPLACEMENT}", "linked_id", "url"}


def test_storable_replaces_only_what_cannot_be_stored():
    assert storable_text("plain") == "plain"
    assert storable_text(f"a{NUL}b{SURROGATE}") == f"a{REPLACEMENT}b{REPLACEMENT}"
    assert storable_text("\U0001f600") == "\U0001f600"  # a real pair is fine
    clean, paths = storable_json({"a": [1, f"x{NUL}"], "b": {"c": "ok"}, f"d{NUL}": 2})
    assert clean == {"a": [1, f"x{REPLACEMENT}"], "b": {"c": "ok"}, f"d{REPLACEMENT}": 2}
    assert paths == ["a[1]", f"d{REPLACEMENT}"]
    same = {"x": ["y"]}
    assert storable_json(same)[0] is same  # nothing to replace: nothing copied


def hostile_event(sandbox, profile="human", **fields):
    return sandbox.create_event(profile=profile, ip="127.0.0.1", overrides=HOSTILE, **fields)


def post(event_id, username):
    body = {"event_id": event_id, "username": username, "password": PASSWORD}
    return APIClient(REMOTE_ADDR="127.0.0.1").post("/api/signup", body, format="json")


@pytest.mark.django_db
@pytest.mark.parametrize(("profile", "status"), [("human", 201), ("bad_bot", 403)])
def test_a_signup_keeps_its_evidence_and_says_what_was_replaced(sandbox, profile, status):
    event = hostile_event(sandbox, profile)
    response = post(event["event_id"], f"u{profile[:3]}")
    assert response.status_code == status, response.content
    attempt = SignupAttempt.objects.get(reference=response.json()["reference"])
    snapshot = attempt.fingerprint_event  # a bot leaves its evidence too
    assert set(snapshot.text_replaced) == REPLACED
    assert snapshot.raw["tags"]["note"] == f"a{REPLACEMENT}b" and NUL not in snapshot.url


@pytest.mark.django_db
def test_the_signed_webhook_stores_such_an_event(sandbox, settings):
    settings.FINGERPRINT_WEBHOOK_SECRET = "whsec"
    event = hostile_event(sandbox)
    body = json.dumps(event).encode()
    import hashlib
    import hmac

    signature = "v1=" + hmac.new(b"whsec", body, hashlib.sha256).hexdigest()
    response = APIClient().post(
        "/api/fingerprint/webhook",
        body,
        content_type="application/json",
        HTTP_FPJS_EVENT_SIGNATURE=signature,
    )
    assert response.status_code == 200, response.content
    assert set(FingerprintEvent.objects.get(event_id=event["event_id"]).text_replaced) == REPLACED
    # Delivered again, it is the same event: no later version of it.
    assert event_webhook_store(body=body).later_versions.count() == 0


@pytest.mark.django_db
def test_verification_decides_such_an_event_and_skips_an_item_that_fails(
    sandbox, settings, monkeypatch
):
    settings.FINGERPRINT_MAX_RETRIES = 0
    first, second, third = (hostile_event(sandbox) for _ in range(3))
    sandbox.set_faults(target="events", status=503)
    for n, event in enumerate((first, second, third)):
        assert post(event["event_id"], f"late{n}").json()["status"] == "pending_review"
    sandbox.clear_faults()
    evaluate = rules.evaluate_signup

    def breaks_on_the_second(ctx, cfg, **kwargs):
        if ctx.event is not None and ctx.event.event_id == second["event_id"]:
            raise RuntimeError("a bug that only this attempt meets")
        return evaluate(ctx, cfg, **kwargs)

    monkeypatch.setattr(rules, "evaluate_signup", breaks_on_the_second)
    counts = verification.attempts_verify_due()
    assert counts == {"allow": 2, "failed": 1}
    decisions = dict(SignupAttempt.objects.values_list("username", "decision"))
    assert decisions == {"late0": "allow", "late1": "unverified", "late2": "allow"}


@pytest.mark.django_db
def test_the_backfill_stores_such_events_and_skips_one_that_fails(sandbox, monkeypatch):
    from risk.services import event_store

    events = [hostile_event(sandbox) for _ in range(3)]
    for n, event in enumerate(events):
        SignupAttempt.objects.create(username=f"b{n}", event_id=event["event_id"], decision="allow")
    keep = event_store.snapshots_keep

    def breaks_on_one(*, events, **kwargs):
        if any(e.event_id == events_ids[1] for e in events):
            raise ValueError("a bug that only this event meets")
        return keep(events=events, **kwargs)

    events_ids = [e["event_id"] for e in events]
    monkeypatch.setattr(event_store, "snapshots_keep", breaks_on_one)
    out = io.StringIO()
    call_command("backfill_events", "--rps", "0", "--no-progress", stdout=out, stderr=out)
    stored = set(FingerprintEvent.objects.values_list("event_id", flat=True))
    assert stored == {events_ids[0], events_ids[2]}
    assert "failed" in out.getvalue()
    assert set(FingerprintEvent.objects.get(event_id=events_ids[0]).text_replaced) == REPLACED


@pytest.mark.django_db
def test_a_drn_answer_with_such_text_is_stored(sandbox, settings):
    from risk.services.devices import device_ensure_one
    from risk.services.drn import drn_lookup

    visitor = "vsDrnHostile00000001"
    country = {"code": f"D{NUL}E", "detectors": [{"type": "ip", "activityPercentage": 1.0}]}
    sandbox.seed_drn(visitor, regional_activity={"countries": [country]})
    device = device_ensure_one(visitor_id=visitor, platform="android")
    snapshot = drn_lookup(device=device)
    assert snapshot.status == "ok"
    stored = DrnSnapshot.objects.get(pk=snapshot.pk)
    assert stored.text_replaced and all(NUL not in json.dumps(c) for c in stored.countries)


@pytest.mark.django_db
def test_the_quickstart_import_refuses_such_rows_and_imports_the_rest(tmp_path):
    path = tmp_path / "quickstart.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE accounts (id INTEGER, username TEXT, password TEXT, visitorId TEXT)")
    rows = [
        (1, "fine", "pw-one-1234", "visitorAAAAAAAAAAAAA"),
        (2, f"nul{NUL}name", "pw-two-1234", "visitorBBBBBBBBBBBBB"),
        (3, "lone", "pw-three-123", f"visitor{SURROGATE}CCCCCCCC"),
    ]
    db.executemany("INSERT INTO accounts VALUES (?, ?, ?, ?)", [
        (i, u, p, v.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))
        for i, u, p, v in rows
    ])  # fmt: skip
    db.commit()
    db.close()
    out = io.StringIO()
    call_command("import_quickstart", str(path), "--no-progress", stdout=out, stderr=out)
    assert list(SignupAttempt.objects.values_list("username", flat=True)) == ["fine"]
    assert "invalid_username" in out.getvalue()


@pytest.mark.django_db
def test_rescore_skips_an_attempt_that_fails_and_counts_it(sandbox, monkeypatch):
    from risk.services import rescore

    made = [sandbox.create_event(profile="human", ip="127.0.0.1") for _ in range(3)]
    for n, event in enumerate(made):
        assert post(event["event_id"], f"res{n}").status_code == 201
    broken = SignupAttempt.objects.get(username="res1").pk
    rebuild = rescore.attempt_context_rebuild

    def breaks_on_one(*, attempt, **kwargs):
        if attempt.pk == broken:
            raise RuntimeError("a bug that only this attempt meets")
        return rebuild(attempt=attempt, **kwargs)

    monkeypatch.setattr(rescore, "attempt_context_rebuild", breaks_on_one)
    out = io.StringIO()
    call_command("rescore", "--since", "1h", "--no-progress", stdout=out)
    assert "failed" in out.getvalue() and "scored" in out.getvalue()


def test_text_that_only_looks_like_an_escaped_nul_is_kept_as_it_is():
    value = {"note": "a backslash then u0000: \\u0000", "emoji": "\U0001f600"}
    assert storable_json(value) == (value, [])
    assert storable_json(value)[0] is value

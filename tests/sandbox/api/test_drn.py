"""Device Reputation Network endpoint."""

from __future__ import annotations

import re
import time

SECRET = "sandbox-secret-key"
ALL = "regional_activity,suspect_score,timestamps"
MINUTE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:00Z$")


def drn(http, server, visitor_id: str, signals: str | None = ALL, key: str = SECRET,
        version: str | None = "2024-09-01"):  # fmt: skip
    headers = {"Authorization": f"Bearer {key}"}
    if version:
        headers["X-API-Version"] = version
    params = {"signals": signals} if signals is not None else {}
    return http.get(f"{server.url}/drn/{visitor_id}", headers=headers, params=params, timeout=10)


def code(response) -> str:
    return response.json()["error"]["code"]


def test_drn_android_visitor(control, server, http) -> None:
    first = control.create_event("android", age_s=3 * 86_400)
    visitor = first["identification"]["visitor_id"]
    control.create_event("farm", visitor_id=visitor, ip="178.62.10.10")
    response = drn(http, server, visitor)
    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == {"regionalActivity", "suspectScore", "timestamps"}
    activity = data["regionalActivity"]
    assert MINUTE.match(activity["startDate"]) and MINUTE.match(activity["endDate"])
    assert activity["countries"]
    for country in activity["countries"]:
        for detector in country["detectors"]:
            assert detector["type"] in ("ip", "origin")
            assert 0 < detector["activityPercentage"] <= 1
    score = data["suspectScore"]
    assert score["minimum"] == {"value": 0, "signals": {}}
    assert score["maximum"]["value"] == 14
    assert score["maximum"]["percentile"] in (0.25, 0.5, 0.75, 0.95)
    assert score["maximum"]["signals"] == {"emulator": 8, "rootApps": 3, "highActivity": 3}
    stamps = data["timestamps"]
    assert MINUTE.match(stamps["firstSeenAt"]) and MINUTE.match(stamps["lastSeenAt"])
    assert stamps["firstSeenAt"] < stamps["lastSeenAt"]
    only = drn(http, server, visitor, signals="timestamps").json()["data"]
    assert set(only) == {"timestamps"}


def test_drn_vpn_shows_origin_country(control, server, http) -> None:
    event = control.create_event(
        "android",
        ip="178.62.1.2",
        overrides={"vpn": True, "vpn_origin_country": "BR", "vpn_methods": {"public_vpn": True}},
    )
    data = drn(http, server, event["identification"]["visitor_id"]).json()["data"]
    countries = {c["code"]: c["detectors"] for c in data["regionalActivity"]["countries"]}
    assert countries == {
        "NL": [{"type": "ip", "activityPercentage": 1.0}],
        "BR": [{"type": "origin", "activityPercentage": 1.0}],
    }
    assert data["suspectScore"]["maximum"]["signals"] == {"vpn": {"publicVPN": 5}}


def test_drn_errors(control, server, http) -> None:
    android = control.create_event("android")["identification"]["visitor_id"]
    js = control.create_event("human")["identification"]["visitor_id"]
    ios = control.create_event("ios")["identification"]["visitor_id"]
    assert drn(http, server, android).status_code == 200
    wrong = drn(http, server, android, key="nope")
    assert wrong.status_code == 401 and code(wrong) == "secret_key_not_found"
    assert drn(http, server, android, version=None).status_code == 400
    assert drn(http, server, android, version="2023-01-01").status_code == 400
    for signals in ("", "bogus", "timestamps,bogus", None):
        bad = drn(http, server, android, signals=signals)
        assert bad.status_code == 400 and code(bad) == "invalid_signals_parameter"
    for visitor in (js, ios, "unknownvisitor000000"):
        missing = drn(http, server, visitor)
        assert missing.status_code == 404 and code(missing) == "http.not_found"


def test_drn_inactive_device_gives_zero_values(control, server, http) -> None:
    visitor = control.create_event("farm", age_s=40 * 86_400)["identification"]["visitor_id"]
    data = drn(http, server, visitor).json()["data"]
    assert data["regionalActivity"]["countries"] == []
    assert data["suspectScore"]["minimum"]["value"] == 0
    assert data["suspectScore"]["maximum"]["value"] == 0


def test_drn_seed_overrides(control, server, http) -> None:
    countries = [{"code": "US", "detectors": [{"type": "ip", "activityPercentage": 0.5}]}]
    control.seed_drn(
        "seededvisitor0000000",
        regional_activity={"countries": countries},
        suspect_score={"maximum": {"value": 30, "percentile": 0.95, "signals": {"frida": 10}}},
        first_seen_at="2026-01-01T10:00:00Z",
    )
    data = drn(http, server, "seededvisitor0000000").json()["data"]
    assert data["regionalActivity"]["countries"] == countries
    assert data["suspectScore"]["maximum"]["value"] == 30
    assert data["timestamps"]["firstSeenAt"] == "2026-01-01T10:00:00Z"


def test_drn_rate_limit(control, server, http) -> None:
    visitor = control.create_event("android")["identification"]["visitor_id"]
    control.set_faults(drn_rps=1, drn_burst=3)
    statuses = [drn(http, server, visitor).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    limited = drn(http, server, visitor)
    assert code(limited) == "too_many_requests"
    time.sleep(1.1)
    assert drn(http, server, visitor).status_code == 200
    control.clear_faults()  # back to the default 5 rps, burst 10
    assert [drn(http, server, visitor).status_code for _ in range(10)] == [200] * 10


def test_no_drn_call_is_visible_in_stats(control) -> None:
    control.create_event("android")
    assert control.stats()["requests"].get("drn", 0) == 0

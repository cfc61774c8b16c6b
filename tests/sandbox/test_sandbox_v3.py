"""Legacy Server API v3: auth header, error codes and search."""

from __future__ import annotations

SECRET = "sandbox-secret-key"


def get(http, server, path: str, key: str | None = SECRET, **kw):
    headers = {"Auth-API-Key": key} if key else {}
    return http.get(f"{server.url}{path}", headers=headers, timeout=10, **kw)


def test_v3_auth_and_not_found(control, server, http) -> None:
    event_id = control.create_event()["event_id"]
    assert get(http, server, f"/events/{event_id}").status_code == 200
    missing = get(http, server, f"/events/{event_id}", key=None)
    assert missing.status_code == 403 and missing.json()["error"]["code"] == "TokenRequired"
    wrong = get(http, server, f"/events/{event_id}", key="bad")
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "TokenNotFound"
    unknown = get(http, server, "/events/1708102555327.NOPE00")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "RequestNotFound"


def test_v3_search_pages_and_filters(control, server, http) -> None:
    visitor = control.create_event("human")["identification"]["visitor_id"]
    for _ in range(4):
        control.create_event("human", visitor_id=visitor)
    control.create_event("bad_bot")
    seen = []
    key = None
    while True:
        params = {"limit": 2, "visitor_id": visitor, **({"paginationKey": key} if key else {})}
        body = get(http, server, "/events/search", params=params).json()
        seen += [e["products"]["identification"]["data"]["requestId"] for e in body["events"]]
        key = body.get("paginationKey")
        if not key:
            break
    assert len(seen) == len(set(seen)) == 5
    bots = get(http, server, "/events/search", params={"limit": 10, "bot": "bad"}).json()
    assert [e["products"]["botd"]["data"]["bot"]["result"] for e in bots["events"]] == ["bad"]
    no_limit = get(http, server, "/events/search")
    assert no_limit.status_code == 400
    assert no_limit.json()["error"]["code"] == "RequestCannotBeParsed"


def test_v3_velocity_always_has_the_linked_id_metrics(control, server, http) -> None:
    # v3 sends them as {} without a linked id; Fingerprint's Python SDK (v8) rejects their absence
    event_id = control.create_event("human")["event_id"]
    velocity = get(http, server, f"/events/{event_id}").json()["products"]["velocity"]["data"]
    for metric in ("distinctLinkedId", "distinctIpByLinkedId", "distinctVisitorIdByLinkedId"):
        assert velocity[metric] == {}
    assert velocity["distinctIp"]["intervals"]["5m"] >= 1

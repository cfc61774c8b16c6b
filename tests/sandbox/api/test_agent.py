"""The JS agent stand-in: module served with CORS, identify, sealed results."""

from __future__ import annotations

import pytest

from risk.fingerprint.sealed import SealedResultError, unseal_payload
from sandbox.server import SandboxServer

SEALED_KEY = "p2zRUdNqOK3hb+hsmUqgYeyu0PXz5jZ+0XzW5c+0ZfY="  # same as conftest's server
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/131.0.0.0 Safari/537.36"
)


def traits(ua: str = CHROME, webdriver: bool = False) -> dict:
    return {
        "userAgent": ua,
        "webdriver": webdriver,
        "languages": ["en-GB", "en"],
        "platform": "Win32",
        "hardwareConcurrency": 8,
        "screen": [1920, 1080, 24],
        "timezone": "Europe/London",
    }


def identify(http, base: str, device: str = "device-1", key: str = "sandbox-public-key", **kw):
    body = {
        "apiKey": key,
        "deviceId": device,
        "traits": kw.pop("traits", traits()),
        "url": "http://localhost:8000/accounts/signup/",
        **kw,
    }
    return http.post(f"{base}/_sandbox/identify", json=body, timeout=10)


def test_agent_js_is_an_es_module_with_cors(server, http) -> None:
    response = http.get(f"{server.url}/agent.js", headers={"Origin": "http://localhost:8000"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/javascript")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "export async function start" in response.text
    assert "export const load" in response.text
    assert "import.meta.url" in response.text and "localStorage" in response.text
    preflight = http.options(
        f"{server.url}/_sandbox/identify",
        headers={
            "Origin": "http://localhost:8000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]


def test_identify_is_stable_per_device(control, server, http) -> None:
    first = identify(http, server.url, linkedId="u1", tag={"step": "signup"})
    assert first.status_code == 200
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    body = first.json()
    assert body["event_id"] == body["requestId"] and body["visitor_id"] == body["visitorId"]
    assert len(body["visitor_id"]) == 20 and body["visitor_id"].isalnum()
    again = identify(http, server.url).json()
    assert again["visitor_id"] == body["visitor_id"] and again["event_id"] != body["event_id"]
    other = identify(http, server.url, device="device-2").json()
    assert other["visitor_id"] != body["visitor_id"]

    event = control.get_event(body["event_id"])
    assert event["ip_address"] == "127.0.0.1"  # the TCP peer of the identify call
    assert event["url"] == "http://localhost:8000/accounts/signup/"
    assert event["bot"] == "not_detected" and event["user_agent"] == CHROME
    assert event["browser_details"]["browser_name"] == "Chrome"
    assert event["linked_id"] == "u1" and event["tags"] == {"step": "signup"}
    assert control.get_event(again["event_id"])["identification"]["visitor_found"] is True


@pytest.mark.parametrize(
    ("ua", "webdriver", "bot_type"),
    [(HEADLESS, False, "headless_chrome"), (CHROME, True, "automation")],
)
def test_identify_flags_automation(control, server, http, ua, webdriver, bot_type) -> None:
    body = identify(http, server.url, traits=traits(ua, webdriver)).json()
    event = control.get_event(body["event_id"])
    assert event["bot"] == "bad" and event["bot_type"] == bot_type
    assert event["suspect_score"] >= 10


def test_identify_rejects_wrong_public_key(server, http) -> None:
    response = identify(http, server.url, key="wrong")
    assert response.status_code == 403
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert identify(http, server.url, device="").status_code == 400


def test_sealed_result_decrypts(control, server, http) -> None:
    body = identify(http, server.url).json()
    # rotation: the second key works
    event = unseal_payload(body["sealed_result"], [bytes(32), SEALED_KEY])
    assert event == control.get_event(body["event_id"])
    with pytest.raises(SealedResultError):
        unseal_payload(body["sealed_result"], [bytes(32)])


def test_forwarded_for_only_when_trusted(http) -> None:
    for trusted, expected in ((False, "127.0.0.1"), (True, "203.0.113.9")):
        with SandboxServer(trust_xff=trusted, sealed_key="") as sandbox:
            body = http.post(
                f"{sandbox.url}/_sandbox/identify",
                json={"apiKey": "sandbox-public-key", "deviceId": "d", "traits": traits()},
                headers={"X-Forwarded-For": "203.0.113.9, 10.0.0.1"},
                timeout=10,
            ).json()
            assert "sealed_result" not in body
            event = http.get(f"{sandbox.url}/_sandbox/events/{body['event_id']}").json()
            assert event["ip_address"] == expected

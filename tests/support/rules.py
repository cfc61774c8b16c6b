"""Hand-made events for the rules: a person's established browser at a fixed moment."""

import dataclasses
from datetime import UTC, datetime, timedelta

from risk.conf import resolve
from risk.fingerprint.events import Event

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


CFG = resolve(None).replace(api_url="http://sandbox", secret_api_key="k")


HOME_IP = "198.51.100.7"


def human(**changes) -> Event:
    """A person's established browser: known for a month, one IP this hour, no signals."""
    base = Event(
        event_id="1.a",
        api_version="v4",
        raw={},
        visitor_id="V1",
        timestamp=NOW - timedelta(seconds=2),
        first_seen_at=NOW - timedelta(days=30),
        visitor_found=True,
        ip=HOME_IP,
        url="https://shop.example/signup",
        platform="js",
        confidence=0.99,
        replayed=False,
        bot="not_detected",
        suspect_score=0,
        vpn=False,
        proxy=False,
        tampering=False,
        anti_detect_browser=False,
        tor=False,
        ip_blocklisted=False,
        datacenter=False,
        velocity={"distinct_ip": {"5_minutes": 1, "1_hour": 1, "24_hours": 2}},
    )
    return dataclasses.replace(base, **changes)

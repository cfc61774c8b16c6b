"""Render a stored v4 event in the legacy Server API v3 shape (`products.<signal>.data`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

# v4 boolean signal -> v3 product name; each becomes {"data": {"result": bool}}
BOOL_PRODUCTS = {
    "root_apps": "rootApps",
    "emulator": "emulator",
    "cloned_app": "clonedApp",
    "jailbroken": "jailbroken",
    "simulator": "simulator",
    "frida": "frida",
    "privacy_settings": "privacySettings",
    "virtual_machine": "virtualMachine",
    "incognito": "incognito",
    "location_spoofing": "locationSpoofing",
    "developer_tools": "developerTools",
    "mitm_attack": "mitmAttack",
    "high_activity_device": "highActivity",
}
BOT_RESULTS = {"not_detected": "notDetected", "good": "good", "bad": "bad"}
VELOCITY_WINDOWS = {"5_minutes": "5m", "1_hour": "1h", "24_hours": "24h"}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def iso(ms: int | None, *, millis: bool = False) -> str | None:
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _geolocation(geo: dict[str, Any]) -> dict[str, Any]:
    return {
        "accuracyRadius": geo.get("accuracy_radius"),
        "latitude": geo.get("latitude"),
        "longitude": geo.get("longitude"),
        "postalCode": geo.get("postal_code"),
        "timezone": geo.get("timezone"),
        "city": {"name": geo.get("city_name")},
        "country": {"code": geo.get("country_code"), "name": geo.get("country_name")},
        "continent": {"code": geo.get("continent_code"), "name": geo.get("continent_name")},
        "subdivisions": [
            {"isoCode": sub.get("iso_code"), "name": sub.get("name")}
            for sub in geo.get("subdivisions") or []
        ],
    }


def _ip_info(info: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for version, block in info.items():
        out[version] = {
            "address": block.get("address"),
            "geolocation": _geolocation(block.get("geolocation") or {}),
            "asn": {
                "asn": block.get("asn"),
                "name": block.get("asn_name"),
                "network": block.get("asn_network"),
            },
            "datacenter": {
                "result": bool(block.get("datacenter_result")),
                "name": block.get("datacenter_name") or "",
            },
        }
    return out


def to_v3(event: dict[str, Any]) -> dict[str, Any]:
    """`{"products": {...}}` for one v4 event; products the event lacks are left out."""
    ident = event.get("identification") or {}
    ts = event["timestamp"]
    details = event.get("browser_details") or {}
    info = event.get("ip_info") or {}
    geo = (info.get("v4") or info.get("v6") or {}).get("geolocation")
    found = bool(ident.get("visitor_found"))
    first_seen = iso(ident.get("first_seen_at"), millis=True)
    last_seen = iso(ident.get("last_seen_at"), millis=True) if found else None
    identification: dict[str, Any] = {
        "visitorId": ident.get("visitor_id"),
        "requestId": event["event_id"],
        "incognito": bool(event.get("incognito", False)),
        "linkedId": event.get("linked_id"),
        "tag": event.get("tags") or {},
        "time": iso(ts),
        "timestamp": ts,
        "url": event.get("url"),
        "ip": event.get("ip_address"),
        "ipLocation": _geolocation(geo) if geo else None,
        "browserDetails": {
            "browserName": details.get("browser_name"),
            "browserMajorVersion": details.get("browser_major_version"),
            "browserFullVersion": details.get("browser_full_version"),
            "os": details.get("os"),
            "osVersion": details.get("os_version"),
            "device": details.get("device"),
            "userAgent": event.get("user_agent"),
        },
        "confidence": {"score": (ident.get("confidence") or {}).get("score")},
        "visitorFound": found,
        "firstSeenAt": {"global": first_seen, "subscription": first_seen},
        "lastSeenAt": {"global": last_seen, "subscription": last_seen},
        "sdk": event.get("sdk"),
        "replayed": bool(event.get("replayed")),
    }
    identification = {k: v for k, v in identification.items() if v is not None}
    products: dict[str, Any] = {"identification": {"data": identification}}

    if "bot" in event:
        bot: dict[str, Any] = {"result": BOT_RESULTS.get(event["bot"], event["bot"])}
        if event.get("bot_type"):
            bot["type"] = camel(event["bot_type"])
        products["botd"] = {
            "data": {
                "bot": bot,
                "url": event.get("url"),
                "ip": event.get("ip_address"),
                "time": iso(ts),
                "userAgent": event.get("user_agent"),
                "requestId": event["event_id"],
            }
        }
    for v4_name, v3_name in BOOL_PRODUCTS.items():
        if v4_name in event:
            products[v3_name] = {"data": {"result": bool(event[v4_name])}}
    if info:
        products["ipInfo"] = {"data": _ip_info(info)}
    if "ip_blocklist" in event:
        blocklist = event["ip_blocklist"] or {}
        spam, attack = bool(blocklist.get("email_spam")), bool(blocklist.get("attack_source"))
        products["ipBlocklist"] = {
            "data": {
                "result": spam or attack,
                "details": {"emailSpam": spam, "attackSource": attack},
            }
        }
        products["tor"] = {"data": {"result": bool(blocklist.get("tor_node"))}}
    if "vpn" in event:
        methods = event.get("vpn_methods") or {}
        products["vpn"] = {
            "data": {
                "result": bool(event["vpn"]),
                "confidence": event.get("vpn_confidence"),
                "originTimezone": event.get("vpn_origin_timezone"),
                "originCountry": event.get("vpn_origin_country"),
                "methods": {
                    "timezoneMismatch": bool(methods.get("timezone_mismatch")),
                    "publicVPN": bool(methods.get("public_vpn")),
                    "auxiliaryMobile": bool(methods.get("auxiliary_mobile")),
                    "osMismatch": bool(methods.get("os_mismatch")),
                    "relay": bool(methods.get("relay")),
                },
            }
        }
    if "proxy" in event:
        proxy: dict[str, Any] = {
            "result": bool(event["proxy"]),
            "confidence": event.get("proxy_confidence"),
        }
        if event.get("proxy_details"):
            pd = event["proxy_details"]
            proxy["details"] = {"proxyType": pd.get("proxy_type")}
            if pd.get("last_seen_at") is not None:
                proxy["details"]["lastSeenAt"] = iso(pd["last_seen_at"])
        products["proxy"] = {"data": proxy}
    if "tampering" in event:
        td = event.get("tampering_details") or {}
        products["tampering"] = {
            "data": {
                "result": bool(event["tampering"]),
                "anomalyScore": td.get("anomaly_score", 0.0),
                "antiDetectBrowser": bool(td.get("anti_detect_browser")),
            }
        }
    if "factory_reset_timestamp" in event:
        seconds = int(event["factory_reset_timestamp"] or 0)
        products["factoryReset"] = {"data": {"time": iso(seconds * 1000), "timestamp": seconds}}
    if "velocity" in event:
        velocity = {
            camel(metric): {
                "intervals": {VELOCITY_WINDOWS.get(k, k): v for k, v in windows.items()}
            }
            for metric, windows in event["velocity"].items()
        }
        # v3 always sends the linked-id metrics, empty without a linked id (the SDK requires them)
        for metric in ("distinctLinkedId", "distinctIpByLinkedId", "distinctVisitorIdByLinkedId"):
            velocity.setdefault(metric, {})
        products["velocity"] = {"data": velocity}
    if "suspect_score" in event:
        products["suspectScore"] = {"data": {"result": int(event["suspect_score"])}}
    return {"products": products}

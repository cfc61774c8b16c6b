"""Turn a Fingerprint event (v4 API, v4 webhook, v3 API, v3 webhook) into one typed object.

Lenient by design: Fingerprint adds fields and enum values over time, and omits signals a
platform does not support. Missing values become None, unknown enum values are kept as
snake_case strings (rules only act on values they know), and the raw JSON rides along untouched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from risk.fingerprint.origins import normalise_origin
from risk.fingerprint.parsing import (
    as_bool,
    as_dict,
    as_float,
    as_int,
    as_str,
    parse_epoch_ms,
    parse_iso,
)

BOT_VALUES = ("not_detected", "good", "bad")
ANDROID = "android"  # the only platform the Device Reputation Network knows
PLATFORMS = ("js", ANDROID, "ios")

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(value: str) -> str:
    return _CAMEL.sub("_", value).lower()


def _enum(value: Any) -> str:
    """'notDetected' / 'not_detected' / 'NOT_DETECTED' -> 'not_detected'; '' when absent."""
    if not isinstance(value, str) or not value:
        return ""
    return _snake(value) if not value.isupper() else value.lower()


@dataclass(frozen=True)
class Event:
    """The fields of an event that the rules, the database columns and the reviewers use."""

    event_id: str
    api_version: str  # "v4" or "v3": which shape `raw` has
    raw: dict = field(repr=False, compare=False)
    visitor_id: str = ""
    timestamp: datetime | None = None
    ip: str = ""
    url: str = ""
    platform: str = ""  # js | android | ios | '' (unknown values kept as sent)
    sdk_version: str = ""
    confidence: float | None = None
    visitor_found: bool | None = None
    first_seen_at: datetime | None = None
    linked_id: str = ""
    replayed: bool | None = None
    bot: str = ""  # not_detected | good | bad | '' when not reported | unknown values as sent
    bot_type: str = ""
    suspect_score: int | None = None
    vpn: bool | None = None
    vpn_confidence: str = ""
    vpn_origin_country: str = ""
    proxy: bool | None = None
    tampering: bool | None = None
    anti_detect_browser: bool | None = None
    incognito: bool | None = None
    tor: bool | None = None
    ip_blocklisted: bool | None = None
    virtual_machine: bool | None = None
    developer_tools: bool | None = None
    privacy_settings: bool | None = None
    emulator: bool | None = None
    root_apps: bool | None = None
    frida: bool | None = None
    cloned_app: bool | None = None
    location_spoofing: bool | None = None
    jailbroken: bool | None = None
    high_activity: bool | None = None
    proxy_confidence: str = ""  # low | medium | high | ''
    factory_reset_at: datetime | None = None  # Android: the last factory reset, if any
    # Velocity: distinct values over a window, named as in v4 ("distinct_ip" -> "1_hour" -> n)
    velocity: dict[str, dict[str, int]] = field(default_factory=dict, compare=False)
    country_code: str = ""
    city: str = ""
    asn: str = ""  # the network's AS number, digits only ("7922")
    asn_name: str = ""
    datacenter: bool | None = None
    browser_name: str = ""
    browser_version: str = ""
    os: str = ""
    os_version: str = ""
    device: str = ""
    user_agent: str = ""
    # v3 only: products that came back with an error instead of data (HTTP 200 partial failure)
    product_errors: dict[str, str] = field(default_factory=dict)

    @property
    def has_identification(self) -> bool:
        return bool(self.visitor_id)

    def velocity_count(self, metric: str, window: str) -> int | None:
        """e.g. `velocity_count("distinct_ip", "1_hour")`; None when not reported."""
        return self.velocity.get(metric, {}).get(window)

    @property
    def device_age(self) -> timedelta | None:
        """How long Fingerprint had known this browser or app when the event was made."""
        if self.first_seen_at is None or self.timestamp is None:
            return None
        return max(self.timestamp - self.first_seen_at, timedelta(0))

    @property
    def origin(self) -> str:
        return normalise_origin(self.url) if self.url else ""

    def present_signals(self) -> set[str]:
        """Names (v4 style) of the suspicious signals that are on, for score explanations."""
        names = {
            "tampering": self.tampering,
            "vpn": self.vpn,
            "tor": self.tor,
            "proxy": self.proxy,
            "ip_blocklist": self.ip_blocklisted,
            "virtual_machine": self.virtual_machine,
            "emulator": self.emulator,
            "frida": self.frida,
            "root_apps": self.root_apps,
            "cloned_app": self.cloned_app,
            "location_spoofing": self.location_spoofing,
            "jailbroken": self.jailbroken,
            "developer_tools": self.developer_tools,
            "high_activity_device": self.high_activity,
            "privacy_settings": self.privacy_settings,
            "incognito": self.incognito,
        }
        present = {name for name, on in names.items() if on}
        if self.bot == "bad":  # a good bot (crawler) is not suspicious in itself
            present.add("bot")
        return present


class EventFormatError(ValueError):
    """The payload is not a Fingerprint event of any known shape."""


# Fingerprint's ids are about 20 characters; our columns hold 64. Longer is not an event of theirs.
MAX_ID_LENGTH = 64


def normalise_event(raw: Any) -> Event:
    """Normalise any supported event payload; raises EventFormatError when it is none of them
    (or when its ids are longer than any Fingerprint id)."""
    if not isinstance(raw, dict):
        raise EventFormatError("event payload is not a JSON object")
    if isinstance(raw.get("products"), dict):
        event = _from_v3(raw, products=raw["products"], wrapped=True)
    elif "event_id" in raw:
        event = _from_v4(raw)
    elif "requestId" in raw:  # v3 webhook: identification fields and signals at the top level
        event = _from_v3(raw, products=raw, wrapped=False)
    else:
        raise EventFormatError("event payload has neither event_id, requestId nor products")
    for name in ("event_id", "visitor_id"):
        if len(getattr(event, name)) > MAX_ID_LENGTH:
            raise EventFormatError(f"event {name} is longer than {MAX_ID_LENGTH} characters")
    return event


def _from_v4(raw: dict) -> Event:
    ident = as_dict(raw.get("identification"))
    browser = as_dict(raw.get("browser_details"))
    tampering_details = as_dict(raw.get("tampering_details"))
    blocklist = as_dict(raw.get("ip_blocklist"))
    ip_info = as_dict(raw.get("ip_info"))
    ip_block = as_dict(ip_info.get("v4")) or as_dict(ip_info.get("v6"))
    geo = as_dict(ip_block.get("geolocation"))
    blocklisted = None
    if blocklist:
        blocklisted = bool(blocklist.get("email_spam") or blocklist.get("attack_source"))
    return Event(
        event_id=as_str(raw.get("event_id")),
        api_version="v4",
        raw=raw,
        visitor_id=as_str(ident.get("visitor_id")),
        timestamp=parse_epoch_ms(raw.get("timestamp")),
        ip=as_str(raw.get("ip_address")),
        url=as_str(raw.get("url")),
        platform=_enum(as_dict(raw.get("sdk")).get("platform")),
        sdk_version=as_str(as_dict(raw.get("sdk")).get("version")),
        confidence=as_float(as_dict(ident.get("confidence")).get("score")),
        visitor_found=as_bool(ident.get("visitor_found")),
        first_seen_at=parse_epoch_ms(ident.get("first_seen_at")),
        linked_id=as_str(raw.get("linked_id")),
        replayed=as_bool(raw.get("replayed")),
        bot=_enum(raw.get("bot")),
        bot_type=as_str(raw.get("bot_type")),
        suspect_score=as_int(raw.get("suspect_score")),
        vpn=as_bool(raw.get("vpn")),
        vpn_confidence=_enum(raw.get("vpn_confidence")),
        vpn_origin_country=as_str(raw.get("vpn_origin_country")),
        proxy=as_bool(raw.get("proxy")),
        tampering=as_bool(raw.get("tampering")),
        anti_detect_browser=as_bool(tampering_details.get("anti_detect_browser")),
        incognito=as_bool(raw.get("incognito")),
        tor=as_bool(blocklist.get("tor_node")),
        ip_blocklisted=blocklisted,
        virtual_machine=as_bool(raw.get("virtual_machine")),
        developer_tools=as_bool(raw.get("developer_tools")),
        privacy_settings=as_bool(raw.get("privacy_settings")),
        emulator=as_bool(raw.get("emulator")),
        root_apps=as_bool(raw.get("root_apps")),
        frida=as_bool(raw.get("frida")),
        cloned_app=as_bool(raw.get("cloned_app")),
        location_spoofing=as_bool(raw.get("location_spoofing")),
        jailbroken=as_bool(raw.get("jailbroken")),
        high_activity=as_bool(raw.get("high_activity_device")),
        proxy_confidence=_enum(raw.get("proxy_confidence")),
        factory_reset_at=_reset_time(raw.get("factory_reset_timestamp")),
        velocity=_velocity_v4(raw.get("velocity")),
        country_code=as_str(geo.get("country_code")),
        city=as_str(geo.get("city_name")),
        asn=as_str(ip_block.get("asn")),
        asn_name=as_str(ip_block.get("asn_name")),
        datacenter=as_bool(ip_block.get("datacenter_result")),
        browser_name=as_str(browser.get("browser_name")),
        browser_version=as_str(browser.get("browser_major_version")),
        os=as_str(browser.get("os") or raw.get("os")),
        os_version=as_str(browser.get("os_version") or raw.get("os_version")),
        device=as_str(browser.get("device") or raw.get("device")),
        user_agent=as_str(raw.get("user_agent") or browser.get("user_agent")),
    )


def _from_v3(raw: dict, *, products: dict, wrapped: bool) -> Event:
    errors: dict[str, str] = {}

    def product(name: str) -> dict:
        """The data of a v3 product (API: products.<name>.data; webhook: top-level <name>)."""
        entry = products.get(name)
        if not wrapped:
            return entry if isinstance(entry, dict) else {"result": entry}
        entry = as_dict(entry)
        if isinstance(entry.get("error"), dict):
            errors[name] = as_str(entry["error"].get("code")) or "error"
        return as_dict(entry.get("data"))

    ident = product("identification") if wrapped else raw
    browser = as_dict(ident.get("browserDetails"))
    bot = as_dict(product("botd").get("bot")) if wrapped else as_dict(raw.get("bot"))
    tampering = product("tampering")
    blocklist = product("ipBlocklist")
    blocklist_details = as_dict(blocklist.get("details"))
    vpn = product("vpn")
    ip_info = product("ipInfo")
    ip_block = as_dict(ip_info.get("v4")) or as_dict(ip_info.get("v6"))
    location = as_dict(ident.get("ipLocation")) or as_dict(ip_block.get("geolocation"))
    blocklisted = None
    if blocklist:
        blocklisted = bool(
            blocklist_details.get("emailSpam") or blocklist_details.get("attackSource")
        )
    incognito = product("incognito").get("result")
    if incognito is None:
        incognito = ident.get("incognito")
    first_seen = as_dict(ident.get("firstSeenAt"))
    return Event(
        event_id=as_str(ident.get("requestId") or raw.get("requestId")),
        api_version="v3",
        raw=raw,
        visitor_id=as_str(ident.get("visitorId")),
        timestamp=parse_epoch_ms(ident.get("timestamp")) or parse_iso(ident.get("time")),
        ip=as_str(ident.get("ip")),
        url=as_str(ident.get("url")),
        platform=_enum(as_dict(ident.get("sdk")).get("platform")),
        sdk_version=as_str(as_dict(ident.get("sdk")).get("version")),
        confidence=as_float(as_dict(ident.get("confidence")).get("score")),
        visitor_found=as_bool(ident.get("visitorFound")),
        first_seen_at=parse_iso(first_seen.get("subscription") or first_seen.get("global")),
        linked_id=as_str(ident.get("linkedId")),
        replayed=as_bool(ident.get("replayed")),
        bot=_enum(bot.get("result")),
        bot_type=as_str(bot.get("type")),
        suspect_score=as_int(product("suspectScore").get("result")),
        vpn=as_bool(vpn.get("result")),
        vpn_confidence=_enum(vpn.get("confidence")),
        vpn_origin_country=as_str(vpn.get("originCountry")),
        proxy=as_bool(product("proxy").get("result")),
        tampering=as_bool(tampering.get("result")),
        anti_detect_browser=as_bool(tampering.get("antiDetectBrowser")),
        incognito=as_bool(incognito),
        tor=as_bool(product("tor").get("result")),
        ip_blocklisted=blocklisted,
        virtual_machine=as_bool(product("virtualMachine").get("result")),
        developer_tools=as_bool(product("developerTools").get("result")),
        privacy_settings=as_bool(product("privacySettings").get("result")),
        emulator=as_bool(product("emulator").get("result")),
        root_apps=as_bool(product("rootApps").get("result")),
        frida=as_bool(product("frida").get("result")),
        cloned_app=as_bool(product("clonedApp").get("result")),
        location_spoofing=as_bool(product("locationSpoofing").get("result")),
        jailbroken=as_bool(product("jailbroken").get("result")),
        high_activity=as_bool(product("highActivity").get("result")),
        proxy_confidence=_enum(product("proxy").get("confidence")),
        factory_reset_at=_reset_time(product("factoryReset").get("timestamp")),
        velocity=_velocity_v3(product("velocity")),
        country_code=as_str(as_dict(location.get("country")).get("code")),
        city=as_str(as_dict(location.get("city")).get("name")),
        asn=as_str(as_dict(ip_block.get("asn")).get("asn")),
        asn_name=as_str(as_dict(ip_block.get("asn")).get("name")),
        datacenter=as_bool(as_dict(ip_block.get("datacenter")).get("result")),
        browser_name=as_str(browser.get("browserName")),
        browser_version=as_str(browser.get("browserMajorVersion")),
        os=as_str(browser.get("os")),
        os_version=as_str(browser.get("osVersion")),
        device=as_str(browser.get("device")),
        user_agent=as_str(browser.get("userAgent") or raw.get("userAgent")),
        product_errors=errors,
    )


_V3_WINDOWS = {"5m": "5_minutes", "1h": "1_hour", "24h": "24_hours"}
_V4_WINDOWS = tuple(_V3_WINDOWS.values())


def _velocity_v4(value: Any) -> dict[str, dict[str, int]]:
    result = {}
    for metric, windows in as_dict(value).items():
        counts = {w: n for w in _V4_WINDOWS if (n := as_int(as_dict(windows).get(w))) is not None}
        if counts and isinstance(metric, str):
            result[metric] = counts
    return result


def _velocity_v3(value: Any) -> dict[str, dict[str, int]]:
    result = {}
    for metric, body in as_dict(value).items():
        intervals = as_dict(as_dict(body).get("intervals"))
        counts = {
            _V3_WINDOWS[w]: n for w in _V3_WINDOWS if (n := as_int(intervals.get(w))) is not None
        }
        if counts and isinstance(metric, str):
            result[_snake(metric)] = counts
    return result


def _reset_time(value: Any) -> datetime | None:
    """Factory reset time: epoch seconds or milliseconds; 0 (never reset) is None."""
    number = as_int(value)
    if not number or number < 0:
        return None
    seconds = number / 1000 if number > 10**11 else number
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None

"""Generate internally consistent v4 events from a device profile.

Pure functions: no I/O. A profile is data (`Traits`: platform, network, the signals it shows).
Device traits (browser, phone model, home city) are derived from the visitor id, so every event
of one visitor describes the same device. Fields a platform does not support are left out, as
Fingerprint does. The suspect score is the product's own reading of the signals.
"""

from __future__ import annotations

import hashlib
import random
import string
from dataclasses import dataclass
from typing import Any

from risk.fingerprint.events import normalise_event
from risk.fingerprint.suspect_score import suspect_score


@dataclass(frozen=True)
class Traits:
    """A device profile as data: the device, its network and the signals it shows. Anything
    else (a VM, Frida, a proxy flag...) is an `overrides` away on the event itself."""

    platform: str  # sdk.platform: js | android | ios
    network: str = "home"  # home | hosting (a datacenter) | tor (an exit node) | crawler
    browser: str = ""  # js only: "" a common browser | headless | crawler
    bot: str = "not_detected"  # js only
    bot_type: str = ""
    confidence: float = 0.99
    vpn: bool = False
    tampering: bool = False  # an anti-detect browser
    incognito: bool = False
    emulator: bool = False
    root_apps: bool = False
    high_activity: bool = False


PROFILES: dict[str, Traits] = {
    "human": Traits("js"),
    "bad_bot": Traits("js", network="hosting", browser="headless", bot="bad",
                      bot_type="headless_chrome", confidence=0.5),
    "good_bot": Traits("js", network="crawler", browser="crawler", bot="good",
                       bot_type="search_engine"),
    "vpn": Traits("js", network="hosting", vpn=True),
    "tor": Traits("js", network="tor"),
    "tampering": Traits("js", tampering=True, confidence=0.5),
    "incognito": Traits("js", incognito=True),
    "android": Traits("android"),
    "android_emulator": Traits("android", emulator=True),
    "android_rooted": Traits("android", root_apps=True),
    "farm": Traits("android", emulator=True, root_apps=True, high_activity=True),
    "ios": Traits("ios"),
}  # fmt: skip

SDK_VERSIONS = {"js": "3.11.10", "android": "2.7.0", "ios": "2.7.0"}
DEFAULT_URLS = {
    "js": "https://app.example.com/accounts/signup/",
    "android": "android-app://com.example.fpdjango/",
    "ios": "ios-app://com.example.fpdjango/",
}

_ALNUM = string.ascii_letters + string.digits
_rand = random.Random()  # ids need uniqueness, not secrecy


def new_visitor_id() -> str:
    return "".join(_rand.choices(_ALNUM, k=20))


def new_event_id(timestamp_ms: int) -> str:
    """Fingerprint's id shape: `<epoch ms>.<6 alphanumerics>`."""
    return f"{timestamp_ms}.{''.join(_rand.choices(_ALNUM, k=6))}"


def stable_id(seed: str, length: int = 20) -> str:
    """A deterministic alphanumeric id (base62 of a SHA-256)."""
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    chars = []
    while len(chars) < length:
        number, rest = divmod(number, 62)
        chars.append(_ALNUM[rest])
    return "".join(chars)


# --- places and networks ------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    country_code: str
    country_name: str
    city: str
    continent_code: str
    continent_name: str
    timezone: str
    latitude: float
    longitude: float
    postal_code: str
    subdivision: tuple[str, str]
    asn: str
    asn_name: str
    prefix: str  # first two octets of the addresses handed out here
    datacenter: str = ""  # datacenter name; empty for residential networks


HOMES = (
    Place("US", "United States", "New York", "NA", "North America", "America/New_York",
          40.7128, -74.006, "10001", ("NY", "New York"), "7922", "COMCAST-7922", "73.45"),
    Place("GB", "United Kingdom", "London", "EU", "Europe", "Europe/London",
          51.5072, -0.1276, "EC1A", ("ENG", "England"), "5089", "NTL", "81.98"),
    Place("DE", "Germany", "Berlin", "EU", "Europe", "Europe/Berlin",
          52.52, 13.405, "10115", ("BE", "Land Berlin"), "3320", "DTAG", "91.64"),
    Place("FR", "France", "Paris", "EU", "Europe", "Europe/Paris",
          48.8566, 2.3522, "75001", ("IDF", "Ile-de-France"), "3215", "ORANGE", "90.84"),
    Place("BR", "Brazil", "Sao Paulo", "SA", "South America", "America/Sao_Paulo",
          -23.5505, -46.6333, "01000", ("SP", "Sao Paulo"), "28573", "CLARO", "177.32"),
    Place("IN", "India", "Mumbai", "AS", "Asia", "Asia/Kolkata",
          19.076, 72.8777, "400001", ("MH", "Maharashtra"), "55836", "RELIANCEJIO", "49.36"),
)  # fmt: skip

HOSTING = (
    Place("NL", "Netherlands", "Amsterdam", "EU", "Europe", "Europe/Amsterdam",
          52.3676, 4.9041, "1012", ("NH", "North Holland"), "14061", "DIGITALOCEAN-ASN",
          "178.62", "DigitalOcean"),
    Place("US", "United States", "Ashburn", "NA", "North America", "America/New_York",
          39.0438, -77.4874, "20147", ("VA", "Virginia"), "16509", "AMAZON-02", "3.80",
          "Amazon AWS"),
    Place("DE", "Germany", "Falkenstein", "EU", "Europe", "Europe/Berlin",
          50.4779, 12.3713, "08223", ("SN", "Saxony"), "24940", "HETZNER-ONLINE-GMBH",
          "185.220", "Hetzner"),
)  # fmt: skip

CRAWLER = Place("US", "United States", "Mountain View", "NA", "North America",
                "America/Los_Angeles", 37.386, -122.0838, "94043", ("CA", "California"),
                "15169", "GOOGLE", "66.249", "Google")  # fmt: skip


def place_for_ip(ip: str) -> Place:
    """Pick a plausible residential place for an address we did not choose ourselves."""
    for place in HOMES + HOSTING + (CRAWLER,):
        if ip.startswith(place.prefix + "."):
            return place
    return HOMES[int(hashlib.sha256(ip.encode()).hexdigest(), 16) % len(HOMES)]


def ip_info(ip: str, place: Place) -> dict[str, Any]:
    version = "v6" if ":" in ip else "v4"
    network = f"{place.prefix}.0.0/16" if version == "v4" else ip.rsplit(":", 4)[0] + "::/64"
    return {
        version: {
            "address": ip,
            "geolocation": {
                "accuracy_radius": 1000 if place.datacenter else 20,
                "latitude": place.latitude,
                "longitude": place.longitude,
                "postal_code": place.postal_code,
                "timezone": place.timezone,
                "city_name": place.city,
                "country_code": place.country_code,
                "country_name": place.country_name,
                "continent_code": place.continent_code,
                "continent_name": place.continent_name,
                "subdivisions": [{"iso_code": place.subdivision[0], "name": place.subdivision[1]}],
            },
            "asn": place.asn,
            "asn_name": place.asn_name,
            "asn_network": network,
            "asn_type": "hosting" if place.datacenter else "isp",
            "datacenter_result": bool(place.datacenter),
            "datacenter_name": place.datacenter,
        }
    }


# --- devices ---------------------------------------------------------------------------------

# (user agent, browser, major, full version, os, os version, device)
BROWSERS = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36", "Chrome", "131", "131.0.0", "Windows", "10", "Other"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36", "Chrome", "131", "131.0.0", "Mac OS X", "10.15.7",
     "Other"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
     "Firefox", "133", "133.0", "Windows", "10", "Other"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Safari/605.1.15", "Safari", "18", "18.1", "Mac OS X", "10.15.7", "Other"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge", "131", "131.0.0", "Windows", "10",
     "Other"),
)  # fmt: skip
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/131.0.0.0 Safari/537.36", "Chrome Headless", "131", "131.0.0", "Linux",
    "", "Other",
)  # fmt: skip
CRAWLER_UA = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "Googlebot",
    "2", "2.1", "Other", "", "Spider",
)  # fmt: skip
PHONES = (
    ("Pixel 8", "14", "AP2A.240805.005"),
    ("SM-S921U", "14", "UP1A.231005.007"),
    ("Redmi Note 12", "13", "TKQ1.221114.001"),
)
EMULATOR_PHONE = ("sdk_gphone64_x86_64", "14", "UE1A.230829.036")
IPHONES = (("iPhone15,2", "17.5"), ("iPhone16,1", "18.1"))


UA_BROWSERS = (  # checked in order: Edge and headless Chrome also say "Chrome/"
    ("Edg/", "Edge"),
    ("HeadlessChrome/", "Chrome Headless"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Version/", "Safari"),
)
UA_SYSTEMS = (
    ("Windows", "Windows"),
    ("Mac OS X", "Mac OS X"),
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("Linux", "Linux"),
)


def browser_details(ua: str) -> dict[str, str]:
    """Rough UA parsing, enough for agent-posted user agents."""
    for known in (*BROWSERS, HEADLESS, CRAWLER_UA):
        if known[0] == ua:
            return _details(known)
    name, version = "Other", "0"
    for marker, label in UA_BROWSERS:
        if marker in ua:
            name, version = label, ua.split(marker, 1)[1].split(" ", 1)[0]
            break
    os_name = next((label for marker, label in UA_SYSTEMS if marker in ua), "Other")
    major = version.split(".", 1)[0]
    return {
        "browser_name": name,
        "browser_major_version": major,
        "browser_full_version": version,
        "os": os_name,
        "os_version": "",
        "device": "Other",
    }


def _details(row: tuple[str, ...]) -> dict[str, str]:
    _, name, major, full, os_name, os_version, device = row
    return {
        "browser_name": name,
        "browser_major_version": major,
        "browser_full_version": full,
        "os": os_name,
        "os_version": os_version,
        "device": device,
    }


# --- the event -------------------------------------------------------------------------------


@dataclass
class History:
    """What the store knows about the visitor before this event."""

    first_seen_at: int | None = None
    last_seen_at: int | None = None


def compute_suspect_score(event: dict[str, Any]) -> int:
    """The weighted sum of the event's suspicious signals, read as the product reads them
    (identification left out: the sandbox must score the hostile ids tests ask it for)."""
    signals = {key: value for key, value in event.items() if key != "identification"}
    return suspect_score(normalise_event(signals).present_signals())


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Merge overrides into base in place; a None override value deletes the key."""
    for key, value in overrides.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def default_velocity() -> dict[str, dict[str, int]]:
    one = {"5_minutes": 1, "1_hour": 1, "24_hours": 1}
    return {name: dict(one) for name in ("distinct_ip", "distinct_country", "events", "ip_events")}


def build_event(
    profile: str,
    *,
    visitor_id: str,
    timestamp: int,
    event_id: str | None = None,
    ip: str | None = None,
    url: str | None = None,
    user_agent: str | None = None,
    bot_type: str | None = None,
    replayed: bool = False,
    linked_id: str | None = None,
    tags: dict[str, Any] | None = None,
    history: History | None = None,
    velocity: dict[str, dict[str, int]] | None = None,
) -> dict[str, Any]:
    """A v4 event for `profile`; raises KeyError for an unknown profile."""
    traits = PROFILES[profile]
    platform = traits.platform
    rng = random.Random(visitor_id)  # device traits stay stable per visitor
    home = rng.choice(HOMES)
    place = home
    if traits.network == "tor":
        place = HOSTING[2]
    elif traits.network == "hosting":
        place = rng.choice(HOSTING)
    elif traits.network == "crawler":
        place = CRAWLER
    # Always draw the default address so the rng sequence (hence the device) does not depend
    # on whether the caller chose an IP.
    default_ip = f"{place.prefix}.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}"
    if ip is None:
        ip = default_ip
    elif not (traits.vpn or traits.network == "tor"):
        place = place_for_ip(ip)
    history = history or History()
    first_seen = history.first_seen_at if history.first_seen_at is not None else timestamp

    event: dict[str, Any] = {
        "event_id": event_id or new_event_id(timestamp),
        "timestamp": timestamp,
        "url": url or DEFAULT_URLS[platform],
        "ip_address": ip,
    }
    if linked_id is not None:
        event["linked_id"] = linked_id
    event["tags"] = tags or {}

    if platform == "js":
        row = rng.choice(BROWSERS)
        row = {"headless": HEADLESS, "crawler": CRAWLER_UA}.get(traits.browser, row)
        ua = user_agent or row[0]
        details = _details(row) if ua == row[0] else browser_details(ua)
    elif platform == "android":
        model, version, build = EMULATOR_PHONE if traits.emulator else rng.choice(PHONES)
        ua = user_agent or f"Dalvik/2.1.0 (Linux; U; Android {version}; {model} Build/{build})"
        details = {
            "browser_name": "Android",
            "browser_major_version": version,
            "browser_full_version": version,
            "os": "Android",
            "os_version": version,
            "device": model,
        }
    else:
        model, version = rng.choice(IPHONES)
        ua = user_agent or f"FPDjango/1.0 (com.example.fpdjango; build:1; iOS {version}) {model}"
        details = {
            "browser_name": "iOS",
            "browser_major_version": version.split(".")[0],
            "browser_full_version": version,
            "os": "iOS",
            "os_version": version,
            "device": model,
        }
    event["user_agent"] = ua
    event["browser_details"] = details
    event["identification"] = {
        "visitor_id": visitor_id,
        "confidence": {
            "score": traits.confidence,
            "version": "1.1",
        },
        "visitor_found": history.first_seen_at is not None,
        "first_seen_at": first_seen,
        "last_seen_at": history.last_seen_at if history.last_seen_at is not None else timestamp,
    }
    event["sdk"] = {"platform": platform, "version": SDK_VERSIONS[platform]}
    event["replayed"] = replayed

    if platform == "js":
        event["bot"] = traits.bot
        if traits.bot != "not_detected":
            event["bot_type"] = bot_type or traits.bot_type

    is_vpn = traits.vpn
    event["vpn"] = is_vpn
    event["vpn_confidence"] = "high"
    event["vpn_origin_country"] = home.country_code if is_vpn else "unknown"
    event["vpn_origin_timezone"] = home.timezone if is_vpn else place.timezone
    event["vpn_methods"] = {
        "timezone_mismatch": is_vpn,
        "public_vpn": is_vpn,
        "auxiliary_mobile": False,
        "os_mismatch": False,
        "relay": False,
        "ml_prediction": False,
    }
    event["proxy"] = False
    event["proxy_confidence"] = "high"
    tampered = traits.tampering
    event["tampering"] = tampered
    event["tampering_confidence"] = "high"
    event["tampering_details"] = {
        "anomaly_score": round(rng.uniform(0.9, 0.99) if tampered else rng.uniform(0, 0.2), 4),
        "anti_detect_browser": tampered,
    }
    event["ip_blocklist"] = {
        "email_spam": False,
        "attack_source": False,
        "tor_node": traits.network == "tor",
    }
    event["ip_info"] = ip_info(ip, place)

    if platform == "js":
        event["incognito"] = traits.incognito
        event["privacy_settings"] = False
        event["virtual_machine"] = False
        event["developer_tools"] = False
    elif platform == "android":
        event["root_apps"] = traits.root_apps
        event["emulator"] = traits.emulator
        event["cloned_app"] = False
        event["frida"] = False
        event["factory_reset_timestamp"] = 0
        event["location_spoofing"] = False
        event["mitm_attack"] = False
    else:
        event["jailbroken"] = False
        event["simulator"] = False
        event["frida"] = False
        event["factory_reset_timestamp"] = 0
        event["location_spoofing"] = False

    event["velocity"] = velocity or default_velocity()
    event["high_activity_device"] = traits.high_activity
    event["suspect_score"] = compute_suspect_score(event)
    return event

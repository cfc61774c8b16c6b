"""Weights of the Smart Signals that make up Fingerprint's suspect score.

Fingerprint computes `suspect_score` as the sum of the weights of the suspicious signals present
in an event. Fingerprint tunes the real weights per workspace; these are our reference values,
used by the sandbox to produce consistent events and by the review console to explain a score
("suspect score 17: VPN 5, tampering 7, ...").
"""

# v4 event field -> (weight, label a reviewer reads)
SIGNAL_WEIGHTS: dict[str, tuple[int, str]] = {
    "bot": (10, "bot"),
    "tampering": (7, "tampering"),
    "vpn": (5, "VPN"),
    "tor": (5, "Tor exit node"),
    "proxy": (4, "proxy"),
    "ip_blocklist": (4, "IP on a blocklist"),
    "virtual_machine": (6, "virtual machine"),
    "emulator": (8, "emulator"),
    "frida": (10, "Frida instrumentation"),
    "root_apps": (3, "rooted device"),
    "cloned_app": (5, "cloned app"),
    "location_spoofing": (8, "location spoofing"),
    "jailbroken": (3, "jailbroken device"),
    "developer_tools": (2, "developer tools open"),
    "high_activity_device": (3, "high-activity device"),
    "privacy_settings": (2, "privacy settings"),
    "incognito": (1, "incognito mode"),
}


def score_breakdown(present: set[str]) -> list[tuple[str, int]]:
    """Return (label, weight) for each present signal, heaviest first."""
    items = [SIGNAL_WEIGHTS[name] for name in present if name in SIGNAL_WEIGHTS]
    return sorted(((label, weight) for weight, label in items), key=lambda item: -item[1])


def suspect_score(present: set[str]) -> int:
    """The weighted sum of the present signals."""
    return sum(SIGNAL_WEIGHTS[name][0] for name in present if name in SIGNAL_WEIGHTS)

"""Web origins (scheme://host[:port]) as Fingerprint events and browsers report them."""

from urllib.parse import urlsplit


def normalise_origin(value: str) -> str:
    """`https://Example.com:443/path` -> `https://example.com`; '' when not an http(s) URL."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    default_port = 443 if parts.scheme == "https" else 80
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    suffix = f":{port}" if port and port != default_port else ""
    return f"{parts.scheme}://{host}{suffix}"

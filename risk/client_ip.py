"""The client's IP address, read safely from behind a known number of reverse proxies."""

import ipaddress

from risk.conf import risk_settings


def client_ip_from_meta(meta: dict, *, trusted_proxy_count: int) -> str:
    """Return the client IP for a request that passed through `trusted_proxy_count` proxies.

    Each trusted proxy appends the address it received the request from to X-Forwarded-For,
    so the client is the Nth entry from the right. Entries further left were written by the
    client itself and can be anything: the left-most value is never trusted.
    """
    remote_addr = meta.get("REMOTE_ADDR", "") or ""
    if trusted_proxy_count <= 0:
        return clean_ip(remote_addr)
    forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < trusted_proxy_count:
        # Shorter than the configured chain: the request skipped a proxy (or the count is
        # wrong), so no entry is known to be written by one. The peer address is the only
        # fact; the IP check then flags the mismatch for review instead of trusting a claim.
        return clean_ip(remote_addr)
    return clean_ip(forwarded[len(forwarded) - trusted_proxy_count])


def clean_ip(value: str) -> str:
    """A valid IP as text (IPv4-mapped IPv6 unwrapped), or '' when it is not an IP at all."""
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "1.2.3.4:5678"
        value = value.split(":", 1)[0]
    # An IPv6 zone ("fe80::1%eth0") names our interface, not the client; the database drops it.
    value = value.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


def network_key(ip: str) -> str:
    """The unit the per-client limits count: an IPv4 address, or the /64 network of an IPv6
    address (written as its first address, so it is still an IP). One IPv6 subscriber gets a
    whole /64 and can pick a fresh address for every request."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return str(address)


_RESOLVED = "risk.client_ip"  # a WSGI environ extension key: set once per request


def request_client_ip(request) -> str:
    """The client IP of a Django (or DRF) request, behind RISK_TRUSTED_PROXY_COUNT proxies: the
    signup throttle and the signup both ask, and it is resolved once per request."""
    meta = request.META
    ip = meta.get(_RESOLVED)
    if ip is None:
        ip = client_ip_from_meta(meta, trusted_proxy_count=risk_settings().trusted_proxy_count)
        meta[_RESOLVED] = ip
    return ip


def request_client_network(request) -> str:
    """`network_key` of the request's client IP: what django-axes' staff login lockout counts
    (AXES_CLIENT_IP_CALLABLE), so that fresh addresses of one IPv6 /64 do not reset it."""
    return network_key(request_client_ip(request))

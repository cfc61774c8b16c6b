import pytest

from risk.client_ip import client_ip_from_meta


@pytest.mark.parametrize(
    ("meta", "proxies", "expected"),
    [
        ({"REMOTE_ADDR": "198.51.100.7"}, 0, "198.51.100.7"),
        # No trusted proxy: X-Forwarded-For is the client's own claim and is ignored.
        ({"REMOTE_ADDR": "198.51.100.7", "HTTP_X_FORWARDED_FOR": "1.1.1.1"}, 0, "198.51.100.7"),
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}, 1, "203.0.113.5"),
        # The client spoofs a left-most entry; one trusted proxy appended the real address.
        (
            {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.5"},
            1,
            "203.0.113.5",
        ),
        (
            {"REMOTE_ADDR": "10.0.0.3", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.5, 10.0.0.2"},
            2,
            "203.0.113.5",
        ),
        ({"REMOTE_ADDR": "10.0.0.2"}, 1, "10.0.0.2"),
        # Fewer entries than proxies: a proxy was skipped, so the header proves nothing.
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6"}, 2, "10.0.0.2"),
        ({"REMOTE_ADDR": "::ffff:192.0.2.1"}, 0, "192.0.2.1"),
        (
            {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "[2001:db8::1]:443"},
            1,
            "2001:db8::1",
        ),
        ({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "garbage"}, 1, ""),
    ],
)
def test_client_ip(meta, proxies, expected):
    assert client_ip_from_meta(meta, trusted_proxy_count=proxies) == expected

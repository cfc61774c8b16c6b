"""risk/fingerprint/origins.py: web origins compared as browsers report them."""

import pytest

from risk.fingerprint.origins import normalise_origin


@pytest.mark.parametrize(
    ("value", "origin"),
    [
        ("https://Shop.Example.com/signup?x=1", "https://shop.example.com"),
        ("https://shop.example.com:443/", "https://shop.example.com"),  # the default port
        ("http://shop.example.com:80", "http://shop.example.com"),
        ("https://shop.example.com:8443/a", "https://shop.example.com:8443"),
        ("http://[::1]:8000/", "http://[::1]:8000"),
        ("  https://shop.example.com  ", "https://shop.example.com"),
        ("android-app://com.example.app/", ""),  # not a web page
        ("ftp://shop.example.com", ""),
        ("https://", ""),
        ("https://shop.example.com:99999/", ""),  # no such port
        ("not a url", ""),
    ],
)
def test_origins(value, origin):
    assert normalise_origin(value) == origin

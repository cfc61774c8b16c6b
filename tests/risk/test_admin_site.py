"""Staff login protection: django-axes lockout keyed on the trusted client IP, and optional
TOTP (django-otp) behind REVIEW_REQUIRE_OTP. Real logins through the admin login form."""

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.support.review import PASSWORD, make_reviewer

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/"


def post_login(client, password, username="rita", **meta):
    body = {"username": username, "password": password, "next": "/admin/"}
    return client.post(LOGIN, body, **meta)


def test_repeated_failures_lock_the_network_out_even_with_the_right_password(settings):
    settings.AXES_FAILURE_LIMIT = 3
    make_reviewer("rita")
    make_reviewer("sam")
    client = Client(REMOTE_ADDR="203.0.113.7")
    for name in ("x1", "x2"):  # guessing other names
        assert post_login(client, "wrong", username=name).status_code == 200  # the form again
    locked = post_login(client, "wrong", username="x3")
    assert locked.status_code == 429 and b"Too many failed sign-ins" in locked.content
    assert post_login(client, PASSWORD).status_code == 429
    # another address is not locked out
    other = post_login(Client(REMOTE_ADDR="198.51.100.2"), PASSWORD, username="sam")
    assert other.status_code == 302 and other["Location"] == "/admin/"


def test_repeated_failures_for_one_username_lock_it_from_every_address(settings):
    settings.AXES_FAILURE_LIMIT = 3
    make_reviewer("rita")
    make_reviewer("sam")
    for last in range(3):  # a fresh address for every guess
        post_login(Client(REMOTE_ADDR=f"198.51.100.{10 + last}"), "wrong")
    assert post_login(Client(REMOTE_ADDR="192.0.2.50"), PASSWORD).status_code == 429
    other = post_login(Client(REMOTE_ADDR="192.0.2.50"), PASSWORD, username="sam")
    assert other.status_code == 302


def test_fresh_addresses_of_one_ipv6_64_share_one_lockout(settings):
    settings.AXES_FAILURE_LIMIT = 3
    make_reviewer("sam")
    for n in range(3):
        post_login(Client(REMOTE_ADDR=f"2001:db8:1:2::{n + 1:x}"), "wrong", username=f"x{n}")
    locked = post_login(Client(REMOTE_ADDR="2001:db8:1:2:ffff::9"), PASSWORD, username="sam")
    assert locked.status_code == 429
    other = post_login(Client(REMOTE_ADDR="2001:db8:1:3::1"), PASSWORD, username="sam")
    assert other.status_code == 302  # the next /64 is another subscriber


def test_the_lockout_follows_the_trusted_proxy_entry_not_a_forged_one(settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.RISK_TRUSTED_PROXY_COUNT = 1
    make_reviewer("rita")
    proxy = Client(REMOTE_ADDR="10.0.0.1")  # every request comes through our one proxy
    for n, forged in enumerate(("1.1.1.1", "2.2.2.2")):  # the client rotates a fake entry
        post_login(proxy, "wrong", username=f"x{n}", HTTP_X_FORWARDED_FOR=f"{forged}, 203.0.113.9")
    locked = post_login(proxy, PASSWORD, HTTP_X_FORWARDED_FOR="3.3.3.3, 203.0.113.9")
    assert locked.status_code == 429
    ok = post_login(proxy, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.10")
    assert ok.status_code == 302  # another client behind the same proxy


def test_signup_api_is_not_subject_to_the_admin_lockout(settings, sandbox):
    from tests.support.review import signup

    settings.AXES_FAILURE_LIMIT = 1
    make_reviewer("rita")
    post_login(Client(REMOTE_ADDR="127.0.0.1"), "wrong")
    response, _ = signup(sandbox, "human")
    assert response.status_code == 201


def test_totp_is_required_when_switched_on(settings):
    settings.REVIEW_REQUIRE_OTP = True
    rita = make_reviewer("rita")
    client = Client()
    page = post_login(client, PASSWORD)
    assert page.status_code == 200 and client.get("/admin/").status_code == 302  # not in

    device = TOTPDevice.objects.create(user=rita, name="phone", confirmed=True)
    response = client.post(
        LOGIN,
        {
            "username": "rita",
            "password": PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": str(totp(device.bin_key)).zfill(6),
            "next": "/admin/",
        },
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_no_totp_needed_by_default():
    make_reviewer("rita")
    client = Client()
    assert post_login(client, PASSWORD).status_code == 302
    assert client.get("/admin/").status_code == 200

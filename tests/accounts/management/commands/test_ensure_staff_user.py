"""manage.py ensure_staff_user: the demo's staff login (bin/run prints it), made or reset."""

import io

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from tests.support.review import reviewer_group

pytestmark = pytest.mark.django_db


def run(**options) -> dict[str, str]:
    out = io.StringIO()
    call_command("ensure_staff_user", stdout=out, **options)
    return dict(line.split(": ", 1) for line in out.getvalue().splitlines())


def logs_in(username: str, password: str) -> bool:
    """Through the admin's login form, as the demo's user does."""
    client = Client()
    client.post("/admin/login/", {"username": username, "password": password, "next": "/admin/"})
    return client.get("/admin/").status_code == 200


def test_it_makes_a_superuser_whose_printed_password_logs_in():
    printed = run()
    assert printed["username"] == "admin" and len(printed["password"]) >= 12
    assert logs_in("admin", printed["password"])
    user = User.objects.get(username="admin")
    assert user.is_staff and user.is_superuser


def test_running_it_again_resets_the_password_and_reactivates():
    first = run(username="demo")
    User.objects.filter(username="demo").update(is_active=False)
    second = run(username="demo", password="chosen-password-77")
    assert second["password"] == "chosen-password-77"
    assert not logs_in("demo", first["password"])
    assert logs_in("demo", "chosen-password-77")
    assert User.objects.filter(username="demo").count() == 1


def test_a_reviewer_is_staff_in_the_reviewer_group_not_a_superuser():
    group = reviewer_group()
    run(username="rita", reviewer=True)
    rita = User.objects.get(username="rita")
    assert rita.is_staff and not rita.is_superuser
    assert list(rita.groups.all()) == [group]
    assert rita.has_perm("risk.record_decision") and not rita.has_perm("risk.delete_device")

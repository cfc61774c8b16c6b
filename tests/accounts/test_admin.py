"""accounts/admin.py: the accounts list never counts the whole table (millions of accounts)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User

pytestmark = pytest.mark.django_db
ACCOUNTS = "/admin/accounts/user/"


def test_the_accounts_list_shows_accounts_and_counts_only_a_capped_range(client):
    User.objects.bulk_create([User(username=f"member{i:02d}", password="!") for i in range(30)])
    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    with CaptureQueriesContext(connection) as ctx:
        page = client.get(ACCOUNTS)
    assert page.status_code == 200
    assert b"member00" in page.content and b"member29" in page.content
    counts = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT" in sql.upper() for sql in counts), counts
    assert page.context["cl"].show_full_result_count is False


def test_search_finds_an_account(client):
    User.objects.create_user(username="findme", email="find@example.test")
    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    page = client.get(ACCOUNTS, {"q": "findme"})
    assert [u.username for u in page.context["cl"].result_list] == ["findme"]

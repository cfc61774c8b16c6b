"""accounts/services.py: the username check is one probe of the case-insensitive index."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import services

pytestmark = pytest.mark.django_db


def test_username_check_compares_lower_to_lower():
    with CaptureQueriesContext(connection) as queries:
        services.username_taken("Carol")
    sql = [q["sql"] for q in queries if "accounts_user" in q["sql"]]
    assert len(sql) == 1
    assert 'LOWER("accounts_user"."username") = (LOWER(' in sql[0]
    assert "UPPER(" not in sql[0]


@pytest.mark.postgres
def test_username_check_plan_uses_the_lower_index():
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN plans are PostgreSQL's")
    get_user_model().objects.bulk_create(
        [get_user_model()(username=f"user{i}", password="!") for i in range(200)]
    )
    with connection.cursor() as cursor:
        # A tiny table is scanned whatever the indexes; forbid that to see if the index fits.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("ANALYZE accounts_user")
        plan = services.username_query("User7").explain()
    assert "user_username_ci_unique" in plan, plan

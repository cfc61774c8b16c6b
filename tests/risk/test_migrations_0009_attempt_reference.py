"""risk 0009: the migration fills an opaque random reference for every existing attempt."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from risk.models import SignupAttempt
from risk.selectors import REFERENCE_SHAPE
from tests.support.review import empty_cache, make_reviewer, signup  # noqa: F401

QUEUE = "/admin/risk/signupattempt/"


@pytest.mark.django_db(transaction=True)
def test_migration_fills_a_reference_for_existing_rows():
    executor = MigrationExecutor(connection)
    executor.migrate([("risk", "0008_event_versions")])
    old_apps = executor.loader.project_state([("risk", "0008_event_versions")]).apps
    old_attempt = old_apps.get_model("risk", "SignupAttempt")
    old_attempt.objects.bulk_create(
        [old_attempt(username=f"old{i}", event_id=f"e{i}", decision="deny") for i in range(2500)]
    )
    executor = MigrationExecutor(connection)  # reload the graph after migrating backwards
    executor.migrate(executor.loader.graph.leaf_nodes())
    references = list(SignupAttempt.objects.values_list("reference", flat=True))
    assert len(references) == 2500 and len(set(references)) == 2500  # more than one batch
    assert all(reference and REFERENCE_SHAPE.match(reference) for reference in references)

"""Raw event snapshots are compressed with lz4 on PostgreSQL (migration risk 0011)."""

import importlib

import pytest
from django.apps import apps
from django.db import connection

from risk.models import FingerprintEvent, FingerprintEventVersion
from tests.conftest import vendor_fixture

migration = importlib.import_module("risk.migrations.0011_event_raw_lz4")
pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

MODELS = (FingerprintEvent, FingerprintEventVersion)


def compression_of(model) -> str:
    """The column's setting: 'l' lz4, 'p' pglz, '' the server's default."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = %s::regclass"
            " AND attname = 'raw'",
            [model._meta.db_table],
        )
        return cursor.fetchone()[0]


@pytest.fixture
def lz4():
    """Skips on SQLite, PostgreSQL < 14 and builds without lz4 (asks the database)."""
    if not migration.lz4_supported(connection):
        pytest.skip("needs PostgreSQL 14+ built with lz4")


def run(method: str) -> None:
    with connection.schema_editor(atomic=False) as editor:  # inside the test's transaction
        migration._compress_raw_with(method)(apps, editor)


@pytest.mark.usefixtures("lz4")
def test_a_stored_vendor_event_is_compressed_with_lz4():
    raw = vendor_fixture("v4_get_event_200.json")  # 6-8 KB: over the TOAST threshold
    event = FingerprintEvent.objects.create(event_id="1708102555327.NLOjmg", raw=raw)
    version = FingerprintEventVersion.objects.create(event=event, source="webhook", raw=raw)
    with connection.cursor() as cursor:
        for model, pk in ((FingerprintEvent, event.pk), (FingerprintEventVersion, version.pk)):
            cursor.execute(
                f"SELECT pg_column_compression(raw) FROM {model._meta.db_table} WHERE id = %s",
                [pk],
            )
            assert cursor.fetchone() == ("lz4",), model
    event.refresh_from_db()
    assert event.raw == raw  # and reads back the same


@pytest.mark.usefixtures("lz4")
def test_the_migration_reverses_to_the_default_and_applies_again():
    assert [compression_of(model) for model in MODELS] == ["l", "l"]
    run("default")
    assert [compression_of(model) for model in MODELS] == ["", ""]
    run("lz4")
    assert [compression_of(model) for model in MODELS] == ["l", "l"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's TOAST")
def test_a_server_without_lz4_keeps_its_default(monkeypatch):
    """PostgreSQL 13, or a build without lz4: the migration changes nothing and succeeds."""
    if migration.lz4_supported(connection):
        run("default")  # as the table was before the migration
    monkeypatch.setattr(migration, "lz4_supported", lambda connection: False)
    run("lz4")
    assert [compression_of(model) for model in MODELS] == ["", ""]

"""Raw event snapshots are compressed with lz4 on PostgreSQL (migration risk 0011)."""

import importlib

import pytest
from django.apps import apps
from django.db import connection

from risk.models import FingerprintEvent, FingerprintEventVersion
from tests.conftest import vendor_fixture

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="TOAST compression is PostgreSQL's"
    ),
]
migration = importlib.import_module("risk.migrations.0011_event_raw_lz4")


def compression_of(model) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = %s::regclass"
            " AND attname = 'raw'",
            [model._meta.db_table],
        )
        return cursor.fetchone()[0]


def test_a_stored_vendor_event_is_compressed_with_lz4():
    raw = vendor_fixture("v4_get_event_200.json")  # 6-8 KB: over the TOAST threshold
    event = FingerprintEvent.objects.create(event_id="1708102555327.NLOjmg", raw=raw)
    version = FingerprintEventVersion.objects.create(event=event, source="webhook", raw=raw)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_compression(e.raw), pg_column_compression(v.raw)"
            " FROM risk_fingerprintevent e JOIN risk_fingerprinteventversion v"
            " ON v.event_id = e.id WHERE v.id = %s",
            [version.pk],
        )
        assert cursor.fetchone() == ("lz4", "lz4")
    event.refresh_from_db()
    assert event.raw == raw  # and reads back the same


def test_a_server_without_the_method_keeps_its_default():
    """The migration's fallback: PostgreSQL refuses the method, nothing fails, nothing changes
    (run here with a method no server has, inside the test's transaction)."""
    assert compression_of(FingerprintEvent) == "l"
    with connection.schema_editor(atomic=False) as editor:
        migration._compress_raw_with("nosuchmethod")(apps, editor)
    assert compression_of(FingerprintEvent) == "l"
    assert FingerprintEvent.objects.count() == 0  # the transaction is still usable

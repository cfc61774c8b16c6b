"""Raw event snapshots compressed with lz4 instead of pglz on PostgreSQL.

Every signup stores its event's raw JSON. Fingerprint's events are 6-8 KB, over the TOAST
threshold, so PostgreSQL compresses each on insert: lz4 costs about a third of pglz's CPU for
about 10% more bytes (bench/snapshot_compression.py, docs/benchmarks.md). Only new values
use it; stored ones stay as they are, and both read the same. A server without lz4
(PostgreSQL < 14, or built without it) keeps pglz, and SQLite has nothing to change.

`ALTER ... SET COMPRESSION` changes the column's setting only (no rewrite), but it takes an
ACCESS EXCLUSIVE lock for that moment: `lock_timeout` makes the migration fail rather than
queue the signups' inserts behind a long query; run it again when the table is quiet.
"""

from django.db import migrations

MODELS = ("FingerprintEvent", "FingerprintEventVersion")


def lz4_supported(connection) -> bool:
    """PostgreSQL 14+ built with lz4 lists it among default_toast_compression's values."""
    if connection.vendor != "postgresql" or connection.pg_version < 140000:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def _compress_raw_with(method):
    def apply(apps, schema_editor):
        connection = schema_editor.connection
        if not lz4_supported(connection):
            return  # pglz, as before (and nothing to do on SQLite)
        schema_editor.execute("SET LOCAL lock_timeout = '10s'")
        for name in MODELS:
            table = schema_editor.quote_name(apps.get_model("risk", name)._meta.db_table)
            schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN raw SET COMPRESSION {method}")

    return apply


class Migration(migrations.Migration):
    dependencies = [("risk", "0010_review_console")]

    operations = [
        migrations.RunPython(_compress_raw_with("lz4"), _compress_raw_with("default")),
    ]

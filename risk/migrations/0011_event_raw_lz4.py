"""Raw event snapshots compressed with lz4 instead of pglz on PostgreSQL.

Every signup stores its event's raw JSON. Fingerprint's events are 6-8 KB, over the TOAST
threshold, so PostgreSQL compresses each on insert: lz4 costs about a third of pglz's CPU for
about 10% more bytes (bench/snapshot_compression.py, docs/benchmarks.md). Only new values
use it; stored ones stay as they are, and both read the same. A server without lz4
(PostgreSQL < 14, or built without it) keeps its default, and SQLite has nothing to change.
"""

from django.db import DatabaseError, migrations, transaction

MODELS = ("FingerprintEvent", "FingerprintEventVersion")


def _compress_raw_with(method):
    def apply(apps, schema_editor):
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            return
        for name in MODELS:
            table = schema_editor.quote_name(apps.get_model("risk", name)._meta.db_table)
            try:
                with transaction.atomic(using=connection.alias):  # a savepoint
                    schema_editor.execute(
                        f"ALTER TABLE {table} ALTER COLUMN raw SET COMPRESSION {method}"
                    )
            except DatabaseError:
                return  # no lz4 on this server: pglz stays, as before

    return apply


class Migration(migrations.Migration):
    dependencies = [("risk", "0010_review_console")]

    operations = [
        migrations.RunPython(_compress_raw_with("lz4"), _compress_raw_with("default")),
    ]

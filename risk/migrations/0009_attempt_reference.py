"""SignupAttempt.reference: an opaque public token instead of the sequential id.

Added nullable, filled for existing rows in batches, then made unique and required (the
default fills new rows)."""

import base64
import secrets

from django.db import migrations, models

import risk.models

BATCH = 2000


def fill_references(apps, schema_editor):
    SignupAttempt = apps.get_model("risk", "SignupAttempt")
    while True:
        batch = list(SignupAttempt.objects.filter(reference__isnull=True).only("pk")[:BATCH])
        if not batch:
            return
        for attempt in batch:
            attempt.reference = base64.b32encode(secrets.token_bytes(10)).decode()
        SignupAttempt.objects.bulk_update(batch, ["reference"])


class Migration(migrations.Migration):

    dependencies = [
        ("risk", "0008_event_versions"),
    ]

    operations = [
        migrations.AddField(
            model_name="signupattempt",
            name="reference",
            field=models.CharField(editable=False, max_length=16, null=True),
        ),
        migrations.RunPython(fill_references, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="signupattempt",
            name="reference",
            field=models.CharField(
                default=risk.models.attempt_reference_new,
                editable=False,
                max_length=16,
                unique=True,
            ),
        ),
    ]

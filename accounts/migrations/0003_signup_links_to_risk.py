"""Move the link between an account and its signup device out of the user model, into risk's
own model: the attempt that created the account (risk.SignupAttempt.account, its device and
its event). An account with a device or an event id but no attempt (created before attempts
linked accounts) gets one, marked `endpoint="linked"`. Reversible: the fields are filled back
from the attempts, and the attempts this migration made are removed."""

from django.db import migrations

LINKED = "linked"


def links_to_attempts(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    Attempt = apps.get_model("risk", "SignupAttempt")
    Device = apps.get_model("risk", "Device")
    users = User.objects.exclude(device=None, signup_event_id="").only(
        "pk", "username", "email", "is_active", "date_joined", "device", "signup_event_id"
    )
    for user in users.iterator(chunk_size=1000):
        attempt = Attempt.objects.filter(account_id=user.pk).first()
        visitor = ""
        if user.device_id:
            visitor = Device.objects.filter(pk=user.device_id).values_list(
                "visitor_id", flat=True
            ).first() or ""
        if attempt is None:
            made = Attempt.objects.create(
                username=user.username,
                email=user.email,
                event_id=user.signup_event_id,
                device_id=user.device_id,
                visitor_id=visitor,
                account_id=user.pk,
                decision="allow" if user.is_active else "review",
                reasons=[],
                endpoint=LINKED,
            )
            Attempt.objects.filter(pk=made.pk).update(created_at=user.date_joined)
        elif attempt.device_id is None and user.device_id:
            Attempt.objects.filter(pk=attempt.pk).update(
                device_id=user.device_id, visitor_id=attempt.visitor_id or visitor
            )


def attempts_to_links(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    Attempt = apps.get_model("risk", "SignupAttempt")
    attempts = Attempt.objects.exclude(account=None).only("account_id", "device_id", "event_id")
    for attempt in attempts.iterator(chunk_size=1000):
        User.objects.filter(pk=attempt.account_id).update(
            device_id=attempt.device_id, signup_event_id=attempt.event_id
        )
    Attempt.objects.filter(endpoint=LINKED).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_initial"),
        ("risk", "0013_client_network_and_cache_table"),
    ]

    operations = [migrations.RunPython(links_to_attempts, attempts_to_links)]

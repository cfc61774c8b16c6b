"""The "Reviewer" group: sees everything in the review console and records decisions, but
cannot change or delete events, snapshots or the audit log (the admin is read-only for those)."""

from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations

USER_APP, USER_MODEL = settings.AUTH_USER_MODEL.lower().split(".")

VIEW_MODELS = {
    "risk": [
        "device",
        "fingerprintevent",
        "signupattempt",
        "reviewdecision",
        "drnsnapshot",
        "reassessment",
    ],
    USER_APP: [USER_MODEL],
}


def create_reviewer_group(apps, schema_editor):
    # Permissions are normally created after all migrations; reviewers need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Reviewer")
    codenames = [f"view_{model}" for models in VIEW_MODELS.values() for model in models]
    permissions = Permission.objects.filter(
        content_type__app_label__in=list(VIEW_MODELS), codename__in=codenames
    )
    group.permissions.add(*permissions)
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="risk", codename="record_decision")
    )


def remove_reviewer_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Reviewer").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("risk", "0003_review_permission"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_reviewer_group, remove_reviewer_group)]

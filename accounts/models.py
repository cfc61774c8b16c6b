"""The account: Django's user, linked to the device and the event it signed up with."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    device = models.ForeignKey(
        "risk.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="accounts"
    )
    signup_event_id = models.CharField(max_length=64, blank=True, db_index=True)

    class Meta:
        constraints = [
            # "Alice" and "alice" are the same person to a user; make the database agree.
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.username

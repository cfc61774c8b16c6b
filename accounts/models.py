"""The reference project's account: Django's user, with usernames unique whatever their case.

Nothing here is for the risk app: it links a user to their signup attempt and device itself
(risk.models.SignupAttempt.account), as on any host."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower


class User(AbstractUser):
    class Meta:
        constraints = [
            # "Alice" and "alice" are the same person to a user; make the database agree.
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.username

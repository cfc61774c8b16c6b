"""Write and read paths of the reference project's accounts."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Value
from django.db.models.functions import Lower


def username_query(username: str):
    """The accounts with this username, whatever its case. LOWER(username) is what the unique
    index `user_username_ci_unique` holds, so this is an index probe."""
    return (
        get_user_model()
        .objects.alias(username_lower=Lower("username"))
        .filter(username_lower=Lower(Value(username)))
    )


def username_taken(username: str) -> bool:
    return username_query(username).exists()


def account_create(*, username: str, email: str, password_hash: str, active: bool):
    """Insert the account (its password already hashed: no transaction waits on Argon2)."""
    user = get_user_model()(username=username, email=email, password=password_hash)
    user.is_active = active
    user.save()
    return user

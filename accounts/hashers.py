"""Argon2id with its cost taken from settings, so operators can tune it per machine."""

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher


class TunableArgon2PasswordHasher(Argon2PasswordHasher):
    """Django's Argon2 hasher with cost from ARGON2_TIME_COST / _MEMORY_COST_KIB / _PARALLELISM.

    Keeps Django's algorithm name, so hashes stay verifiable by the stock hasher; when the cost
    changes, Django rehashes a password at the user's next login (must_update).
    """

    @property
    def time_cost(self) -> int:  # type: ignore[override]
        return settings.ARGON2_TIME_COST

    @property
    def memory_cost(self) -> int:  # type: ignore[override]
        return settings.ARGON2_MEMORY_COST_KIB

    @property
    def parallelism(self) -> int:  # type: ignore[override]
        return settings.ARGON2_PARALLELISM

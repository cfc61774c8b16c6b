"""Argon2id with its cost taken from settings, so operators can tune it per machine."""

import os
import threading

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher

_slots_lock = threading.Lock()
_slots: dict[int, threading.BoundedSemaphore] = {}


def _hash_slots() -> threading.BoundedSemaphore:
    """At most ARGON2_MAX_CONCURRENT_HASHES hashes at once per process (0: one per core;
    gunicorn.conf.py sets cores / workers, so one per core across the workers).

    Argon2 is CPU- and memory-bound: 64 request threads hashing at once finish no sooner than
    2 at a time on 2 cores, but hold 64 x ARGON2_MEMORY_COST_KIB of memory meanwhile.
    """
    limit = getattr(settings, "ARGON2_MAX_CONCURRENT_HASHES", 0) or os.cpu_count() or 1
    with _slots_lock:
        return _slots.setdefault(limit, threading.BoundedSemaphore(limit))


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

    def encode(self, password, salt):
        with _hash_slots():
            return super().encode(password, salt)

    def verify(self, password, encoded):
        with _hash_slots():
            return super().verify(password, encoded)

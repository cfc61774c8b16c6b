"""The project's Argon2 hasher: cost from settings, and a bound on hashes running at once."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.contrib.auth.hashers import Argon2PasswordHasher, check_password, make_password

from accounts.hashers import TunableArgon2PasswordHasher


def test_cost_comes_from_settings_and_hashes_verify(settings):
    settings.ARGON2_TIME_COST = 3
    settings.ARGON2_MEMORY_COST_KIB = 2048
    encoded = make_password("correct-horse-battery-9")
    assert encoded.startswith("argon2$argon2id$v=19$m=2048,t=3,p=1$")
    assert check_password("correct-horse-battery-9", encoded)
    assert not check_password("wrong", encoded)


def test_at_most_the_configured_number_of_hashes_run_at_once(settings, monkeypatch):
    settings.ARGON2_MAX_CONCURRENT_HASHES = 2
    running, peak, lock = 0, 0, threading.Lock()

    def slow_encode(self, password, salt):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return "argon2$fake"

    monkeypatch.setattr(Argon2PasswordHasher, "encode", slow_encode)
    hasher = TunableArgon2PasswordHasher()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: hasher.encode("pw", "salt"), range(16)))
    assert peak == 2

"""The review console's logins and data sets, shared by its test modules (defined in
tests/support/review.py; a test module's own fixture of the same name wins)."""

from tests.support.review import (  # noqa: F401
    alice,
    alice_client,
    boss,
    boss_client,
    demo,
    mixed,
    reviewer,
    reviewer_client,
)

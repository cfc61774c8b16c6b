"""accounts/models.py: usernames are unique whatever their case, in the database itself."""

import pytest
from django.db import IntegrityError, transaction

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_the_same_name_in_another_case_is_refused_by_the_database():
    User.objects.create_user(username="Alice")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="aLICE")
    User.objects.create_user(username="Alice2")  # a different name is fine
    assert sorted(User.objects.values_list("username", flat=True)) == ["Alice", "Alice2"]


def test_an_account_reads_as_its_username():
    assert str(User(username="bob")) == "bob"

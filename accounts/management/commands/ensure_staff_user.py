"""Create (or reset) the demo staff user and print how to log in. Used by bin/run."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create or update a superuser for the demo; prints its username and password."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", help="default: a new random password")
        parser.add_argument("--reviewer", action="store_true", help="staff in Reviewer group only")

    def handle(self, *args, username, password, reviewer, **options):
        password = password or secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.is_staff = True
        user.is_superuser = not reviewer
        user.is_active = True
        user.set_password(password)
        user.save()
        if reviewer:
            group = Group.objects.filter(name="Reviewer").first()
            if group:
                user.groups.add(group)
        self.stdout.write(f"username: {username}\npassword: {password}")

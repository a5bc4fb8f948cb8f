from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.models import ApiToken
from accounts.services import user_create_verified


class Command(BaseCommand):
    help = "Prints a new API token for a user (shown once; only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument(
            "--create-user",
            "--create",
            dest="create",
            action="store_true",
            help="create the user, email-verified, if missing (the first is admin)",
        )
        parser.add_argument("--name", default="cli")

    def handle(self, *args, email, create, name, **options):
        user = get_user_model().objects.filter(email__iexact=email).first()
        if user is None:
            if not create:
                raise CommandError(f"No user with email {email}. Use --create-user to create one.")
            user = user_create_verified(email=email, first_is_admin=True)
        _, key = ApiToken.issue(user, name)
        self.stdout.write(key)

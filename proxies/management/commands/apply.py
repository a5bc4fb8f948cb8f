from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from proxies import declarations


def owner_for(email: str | None):
    """The user given by email; without one, the only admin, or else the only user."""
    users = get_user_model().objects
    if email:
        user = users.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"No user with email {email}. Create one with `manage.py apitoken {email} --create`.")
        return user
    for candidates in (users.filter(is_superuser=True), users.all()):
        found = list(candidates[:2])
        if len(found) == 1:
            return found[0]
    raise CommandError("Say whose proxies these are with --user EMAIL (there is not exactly one admin or user).")


def apply_file(command: BaseCommand, path: str, email: str | None, prune: bool, dry_run: bool = False):
    """Applies a declaration file for a user and reports the outcome on the command's stdout (errors on
    its stderr); raises CommandError when the file cannot be applied."""
    owner = owner_for(email)
    try:
        outcome = declarations.apply(owner, declarations.load_file(path), prune=prune, dry_run=dry_run)
    except declarations.DeclarationError as e:
        for error in e.errors:
            command.stderr.write(f"{error['path'] or '(document)'}: {error['message']}")
        raise CommandError(f"{path} has {len(e.errors)} error(s); nothing was changed.") from None
    heading = f"{path} for {owner.email}" + (" (dry run: nothing was changed)" if dry_run else "")
    command.stdout.write(heading)
    for verb in ("created", "changed", "unchanged", "deleted"):
        names = getattr(outcome, verb)
        command.stdout.write(f"  {verb}: {', '.join(names) if names else '-'}")
    return outcome


class Command(BaseCommand):
    help = "Applies a declaration file (YAML or JSON; see docs/declarations.md) to a user's proxies."

    def add_arguments(self, parser):
        parser.add_argument("-f", "--file", required=True, help="the declaration file")
        parser.add_argument("--user", help="the owner's email (default: the only admin, or else the only user)")
        parser.add_argument("--prune", action="store_true", help="also delete the user's proxies the file omits")
        parser.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")

    def handle(self, *args, file, user, prune, dry_run, **options):
        apply_file(self, file, user, prune, dry_run)

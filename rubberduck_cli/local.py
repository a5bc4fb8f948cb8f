"""Commands that run a server here, on this machine's settings and data directory (Django's own commands)."""

import os

import click


def django_setup():
    """Django's settings for the commands below (the remote ones never load them)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rubberduck_site.settings")
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def first_run_hint(url: str) -> str | None:
    from django.conf import settings
    from django.contrib.auth import get_user_model

    if get_user_model().objects.exists():
        return None
    return (
        f"Data in {settings.DATA_DIR}. No account yet: the first to sign up at {url}/signup becomes the admin,"
        " or run `rubberduck token create EMAIL --create-user` for an API token."
    )


@click.command()
@click.option("--host", help="The address to serve on (default: $RUBBERDUCK_HOST or 127.0.0.1).")
@click.option("--port", type=int, help="The port to serve on (default: $RUBBERDUCK_PORT or 8000).")
@click.option("--config", type=click.Path(exists=True, dir_okay=False), help="A declaration file to apply first.")
@click.option("--user", "email", help="Whose proxies --config declares (default: the only admin, or user).")
@click.option("--prune", is_flag=True, help="With --config: delete that user's proxies the file omits.")
def serve(host, port, config, email, prune):
    """Migrate the database, then serve the web UI, the API and every proxy (Ctrl-C stops them gracefully)."""
    from django.core.management import call_command

    django_setup()
    migrate()
    hint = first_run_hint(f"http://{host or '127.0.0.1'}:{port or 8000}")
    if hint:
        click.echo(hint)
    given = {"host": host, "port": port, "config": config, "user": email, "prune": prune or None}
    call_command("serve", **{name: value for name, value in given.items() if value is not None})


@click.command()
def runproxies():
    """Migrate the database, then run the proxies headless (no web UI), following the API's start and stop."""
    from django.core.management import call_command

    django_setup()
    migrate()
    call_command("runproxies")


@click.group()
def token():
    """API tokens."""


@token.command("create")
@click.argument("email")
@click.option(
    "--create-user", "--create", is_flag=True, help="Create the user, email-verified, if missing (the first is admin)."
)
@click.option("--name", default="cli", show_default=True, help="The token's name.")
def token_create(email, create_user, name):
    """Print a new API token for EMAIL (shown once; only its hash is stored)."""
    from django.core.management import call_command
    from django.core.management.base import CommandError

    django_setup()
    migrate()
    try:
        call_command("apitoken", email, create=create_user, name=name)
    except CommandError as e:
        raise click.ClickException(str(e)) from None


commands = [serve, runproxies, token]

"""`rubberduck`: the command group. Exit codes: 0 done, 1 an error (one line: the server's message and field
errors), 2 a usage error."""

import click

from rubberduck_cli import local, remote
from rubberduck_cli.output import one_line
from rubberduck_client import RubberduckError


class Rubberduck(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except RubberduckError as e:
            hint = " Give an API token: --token or $RUBBERDUCK_TOKEN (`rubberduck token create EMAIL`)."
            raise click.ClickException(one_line(e) + (hint if e.status == 401 and not ctx.obj.token else "")) from None


@click.group(cls=Rubberduck, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url",
    envvar="RUBBERDUCK_URL",
    default="http://127.0.0.1:8000",
    show_default=True,
    show_envvar=True,
    help="The server the remote commands talk to.",
)
@click.option("--token", envvar="RUBBERDUCK_TOKEN", show_envvar=True, help="Your API token for it.")
@click.version_option(package_name="rubberduck", prog_name="rubberduck")
@click.pass_context
def cli(ctx, url, token):
    """Rubberduck, the LLM caching and chaos proxy: run a server, or drive one over its API."""
    ctx.obj = remote.Server(url, token)


for command in (*local.commands, *remote.commands):
    cli.add_command(command)

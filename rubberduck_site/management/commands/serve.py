import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from proxies.interpreter import configure_process, lower_this_thread
from proxies.management.commands.apply import apply_file
from rubberduck_site.asgi import application
from rubberduck_site.dataplane import build_runner


class Command(BaseCommand):
    help = "Serves the web UI, the REST API and WebSockets with daphne, with the proxy runner embedded."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=settings.RUBBERDUCK_PORT)
        parser.add_argument("--host", default=settings.RUBBERDUCK_HOST)
        parser.add_argument("--config", help="a declaration file to apply before serving (docs/declarations.md)")
        parser.add_argument("--user", help="whose proxies --config declares (default: the only admin, or user)")
        parser.add_argument("--prune", action="store_true", help="with --config: delete the proxies it omits")

    def handle(self, *args, port, host, config, user, prune, **options):
        if (user or prune) and not config:
            raise CommandError("--user and --prune go with --config.")
        if config:
            apply_file(self, config, user, prune)  # before the runner starts, which then serves the result
        if "OpenSSL" not in sys.modules:
            # daphne serves plain TCP here: Twisted's TLS (pyOpenSSL) is kept from loading, ~5 MiB idle (D98).
            sys.modules["OpenSSL"] = None
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        configure_process()
        runner = build_runner()
        runner.start(embedded=True)
        lower_this_thread(settings.RUBBERDUCK_WEB_NICE)  # after the runner's threads exist: they stay at 0 (D104)
        self.stdout.write(f"Rubberduck on http://{host}:{port}/ (proxies bind {settings.RUBBERDUCK_PROXY_HOST})")
        self.stdout.flush()
        try:
            # daphne handles SIGINT/SIGTERM by stopping its reactor; we then stop the proxies gracefully.
            Server(
                application=application,
                endpoints=build_endpoint_description_strings(host=host, port=port),
                signal_handlers=True,
                verbosity=0,
            ).run()
        finally:
            runner.shutdown("graceful")
            self.stdout.write("Rubberduck stopped.")

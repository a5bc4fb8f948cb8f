import signal
import threading

from django.core.management.base import BaseCommand

from proxies.interpreter import configure_process
from proxies.runner import Runner
from rubberduck_site.dataplane import build_runner


class Command(BaseCommand):
    help = "Runs the proxy runner headless: serves every proxy whose desired state is running."

    def handle(self, *args, **options):
        configure_process()
        runner = build_runner()
        stop = threading.Event()
        signals = []

        def on_signal(signum, frame):
            signals.append(signum)
            stop.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        # SIGUSR1: one line on stderr with the log writer's counts; `written` entries are committed (acknowledged).
        signal.signal(signal.SIGUSR1, lambda *a: self.stderr.write(writer_line(runner)))
        runner.start(embedded=True)
        self.stdout.write(f"Rubberduck runner {runner.id} started; Ctrl-C stops it gracefully.")
        self.stdout.flush()
        stop.wait()
        # A second signal while stopping gracefully forces the stop.
        signal.signal(signal.SIGINT, lambda *a: runner_force(runner))
        runner.shutdown("graceful")
        self.stdout.write("Rubberduck runner stopped.")


def writer_line(runner: Runner) -> str:
    state = runner.writer.state()
    return "log writer: " + " ".join(f"{k}={int(v)}" for k, v in state.items())


def runner_force(runner: Runner) -> None:
    for running in list(runner.running.values()):
        running.server.stop("force", wait=False)

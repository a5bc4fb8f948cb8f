"""`failures set`: the config a file (-f, JSON or YAML) and the flags make; the server validates it
(docs/failures.md), so a flag only says where its numbers go."""

import click
import yaml


class Colons(click.ParamType):
    """`a:b:c` into named parts, each converted; the later ones may be left out (then `defaults` fill in)."""

    def __init__(self, metavar: str, parts: list[tuple[str, type]], required: int, defaults: dict | None = None):
        self.name, self.parts, self.required, self.defaults = metavar, parts, required, defaults or {}

    def get_metavar(self, param, ctx=None):
        return self.name

    def convert(self, value, param, ctx):
        if isinstance(value, dict):
            return value
        pieces = value.split(":")
        if not self.required <= len(pieces) <= len(self.parts):
            self.fail(f"{value!r} is not {self.name}", param, ctx)
        try:
            given = {name: kind(piece) for (name, kind), piece in zip(self.parts, pieces, strict=False)}
        except ValueError:
            self.fail(f"{value!r} is not {self.name}", param, ctx)
        return {**self.defaults, **given}


ERROR = Colons("STATUS[:RATE]", [("status", int), ("rate", float)], required=1, defaults={"rate": 1.0})
TIMEOUT = Colons("MODE[:SECONDS[:RATE]]", [("mode", str), ("seconds", float), ("rate", float)], required=1)


def options(command):
    for option in reversed(
        [
            click.option("-f", "--file", type=click.File("r"), help="A failure config, JSON or YAML (- : stdin)."),
            click.option("--error", "errors", type=ERROR, multiple=True, help="Answer STATUS at RATE (default 1)."),
            click.option("--timeout", type=TIMEOUT, help="delay (wait SECONDS, then serve) or hang, at RATE."),
            click.option("--rpm-limit", type=int, help="Requests per minute before 429s."),
            click.option("--ip-allow", multiple=True, help="Only these clients (address, CIDR or 10.*.*.*)."),
            click.option("--ip-block", multiple=True, help="Refuse these clients."),
            click.option("--stream-cut-after", type=int, help="Cut streams after this many events."),
            click.option("--stream-chunk-delay", type=float, help="Milliseconds between stream chunks."),
            click.option("--stream-rate", type=float, help="How many streams the two above apply to (0-1)."),
            click.option("--seed", type=int, help="Makes the random draws reproducible."),
        ]
    ):
        command = option(command)
    return command


def config_of(file, errors, timeout, rpm_limit, ip_allow, ip_block, stream_cut_after, stream_chunk_delay,
              stream_rate, seed) -> dict:  # fmt: skip
    config = load(file) if file else {}
    stream = {"cut_after_events": stream_cut_after, "chunk_delay_ms": stream_chunk_delay, "rate": stream_rate}
    flags = {
        "errors": list(errors),
        "timeout": timeout,
        "rpm_limit": rpm_limit,
        "ip_allow": list(ip_allow),
        "ip_block": list(ip_block),
        "stream": {key: value for key, value in stream.items() if value is not None},
        "seed": seed,
    }
    config.update({part: value for part, value in flags.items() if value not in (None, [], {})})
    if not config and not file:
        raise click.UsageError("Give -f FILE or a failure flag (`failures reset` turns every failure off).")
    return config


def load(file) -> dict:
    try:
        config = yaml.safe_load(file)  # JSON is YAML too
    except yaml.YAMLError as e:
        raise click.ClickException(f"{file.name} is neither JSON nor YAML: {e}") from None
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise click.ClickException(f"{file.name} must hold a failure config: a mapping such as {{errors: [...]}}.")
    return config


def pretty(config: dict) -> str:
    return yaml.safe_dump(config, sort_keys=False).rstrip() if config else "(none: every failure is off)"

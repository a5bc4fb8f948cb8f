"""Commands over a server's REST API, through rubberduck_client: proxies, failures, cache, apply, logs."""

from dataclasses import dataclass, field

import click

from rubberduck_cli import failure_flags, tail
from rubberduck_cli.output import emit, fields, json_option, table
from rubberduck_client import Proxy, Rubberduck, RubberduckError


@dataclass
class Server:
    """The server of --url/--token, connected on first use."""

    url: str
    token: str | None
    client: Rubberduck | None = field(default=None, repr=False)

    def connect(self) -> Rubberduck:
        if self.client is None:
            self.client = Rubberduck(self.url, self.token)
            click.get_current_context().call_on_close(self.client.close)
        return self.client

    def proxy(self, ref: str) -> Proxy:
        """The proxy named `ref`, or else numbered `ref`."""
        client = self.connect()
        try:
            return client.get_proxy(ref)
        except RubberduckError as e:
            if e.status != 404 or not ref.isdigit():
                raise
        try:
            return Proxy(client, {"id": int(ref)}).refresh()
        except RubberduckError as e:
            if e.status == 404:
                raise RubberduckError(
                    404, f"You have no proxy named {ref!r} or with id {ref}.", code="not_found"
                ) from None
            raise


pass_server = click.make_pass_decorator(Server)


def on_a_proxy(command):
    """A command on one proxy: its NAME|ID argument, --json, and the server."""
    return click.argument("proxy", metavar="NAME|ID")(json_option(pass_server(command)))


COLUMNS = ("id", "name", "provider", "status", "port", "base_url")


def status_line(proxy: Proxy) -> str:
    reason = f" ({proxy.last_error})" if proxy.last_error else ""
    return f"{proxy.name}: {proxy.status}{reason}, {proxy.base_url}"


@click.group()
def proxies():
    """List, inspect, start, stop and delete your proxies."""


@proxies.command("ls")
@click.option("--status", help="Only proxies in this status (running, stopped, error...).")
@click.option("--provider", help="Only proxies of this provider id.")
@click.option("--tag", help="Only proxies with this tag.")
@json_option
@pass_server
def proxies_ls(server, status, provider, tag, as_json):
    """Your proxies."""
    filters = {key: value for key, value in {"status": status, "provider": provider, "tag": tag}.items() if value}
    found = server.connect().proxies(**filters)
    headers = [column.upper().replace("_", " ") for column in COLUMNS]
    text = table(headers, [[p.data[c] for c in COLUMNS] for p in found]) if found else "No proxies."
    emit(as_json, [proxy.data for proxy in found], text)


@proxies.command("show")
@on_a_proxy
def proxies_show(server, proxy, as_json):
    """One proxy's settings and state."""
    found = server.proxy(proxy)
    emit(as_json, found.data, fields(found.data))


@proxies.command("start")
@on_a_proxy
def proxies_start(server, proxy, as_json):
    """Start a proxy; answers once it serves (exit 1 when it cannot, with the reason)."""
    started = server.proxy(proxy).start()
    if as_json or started.status == "running":
        emit(as_json, started.data, status_line(started))
    if started.status != "running":
        raise click.ClickException(f"Proxy {started.name!r} did not start: {started.last_error or started.status}")


@proxies.command("stop")
@on_a_proxy
@click.option("--force", is_flag=True, help="Cut requests in flight instead of letting them finish.")
def proxies_stop(server, proxy, force, as_json):
    """Stop a proxy (gracefully: requests in flight finish first)."""
    stopped = server.proxy(proxy).stop("force" if force else "graceful")
    emit(as_json, stopped.data, status_line(stopped))


@proxies.command("rm")
@on_a_proxy
def proxies_rm(server, proxy, as_json):
    """Delete a proxy, with its cache and its log entries."""
    found = server.proxy(proxy)
    found.delete()
    emit(as_json, {"deleted": found.name}, f"Deleted {found.name}.")


@click.group()
def failures():
    """A proxy's failure config (docs/failures.md)."""


@failures.command("show")
@on_a_proxy
def failures_show(server, proxy, as_json):
    """A proxy's failure config ({} when every failure is off)."""
    config = server.proxy(proxy).failures()
    emit(as_json, config, failure_flags.pretty(config))


@failures.command("set")
@on_a_proxy
@failure_flags.options
def failures_set(server, proxy, as_json, **flags):
    """Replace a proxy's failure config with a file's (-f, JSON or YAML) and/or the flags' (a flag's part wins over
    the file's; a part given neither way is off). For example: --error 429:0.5 --timeout delay:5"""
    config = failure_flags.config_of(**flags)
    found = server.proxy(proxy)
    answer = found.set_failures(config)
    emit(as_json, answer, f"Failures of {found.name}:\n{failure_flags.pretty(answer)}")


@failures.command("reset")
@click.argument("proxy", metavar="NAME|ID", required=False)
@click.option("--all", "every", is_flag=True, help="Every proxy of yours.")
@pass_server
def failures_reset(server, proxy, every):
    """Turn a proxy's failures off (or every proxy's, with --all)."""
    if bool(proxy) == every:
        raise click.UsageError("Name one proxy, or give --all.")
    if every:
        server.connect().reset()
        return click.echo("Failures of every proxy turned off.")
    found = server.proxy(proxy)
    found.reset()
    click.echo(f"Failures of {found.name} turned off.")


@click.group()
def cache():
    """A proxy's cache."""


@cache.command("ls")
@on_a_proxy
@click.option("--model", help="Only entries of this model (exact).")
@click.option("--path", help="Only entries whose path contains this.")
@click.option("-q", "--search", "q", help="Only entries whose key, model or path contains this.")
def cache_ls(server, proxy, model, path, q, as_json):
    """A proxy's cached answers (its recording): key, request, status, size, hits, when recorded."""
    entries = server.proxy(proxy).cache.ls(model=model, path=path, q=q)
    emit(as_json, entries, cache_table(entries))


def cache_table(entries: list[dict]) -> str:
    if not entries:
        return "No cached answers."
    rows = [
        [e["key"][:12], e["method"], e["path"], e["model"] or "-", e["status"], "yes" if e["stream"] else "no",
         size(e["size"]), e["hits"], e["recorded_at"]]
        for e in entries
    ]  # fmt: skip
    headers = ["KEY", "METHOD", "PATH", "MODEL", "STATUS", "STREAM", "SIZE", "HITS", "RECORDED"]
    total = (
        f"{len(entries)} answer(s), {size(sum(e['size'] for e in entries))}, {sum(e['hits'] for e in entries)} hit(s)"
    )
    return f"{table(headers, rows)}\n{total}"


def size(count: float) -> str:
    """Bytes for people: 512 B, 1.5 kB, 2.0 MB."""
    if count < 1000:
        return f"{count:.0f} B"
    for unit in ("kB", "MB", "GB"):
        count /= 1000
        if count < 1000 or unit == "GB":
            return f"{count:.1f} {unit}"
    return ""


@cache.command("export")
@on_a_proxy
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
def cache_export(server, proxy, file, as_json):
    """Write a proxy's recording (every cached answer, sorted by key) to FILE, as it streams in."""
    found = server.proxy(proxy)
    found.cache.export(file)
    emit(as_json, {"file": file}, f"Exported the cache of {found.name} to {file}.")


@cache.command("import")
@on_a_proxy
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def cache_import(server, proxy, file, as_json):
    """Load a recording FILE into a proxy's cache (all of it, or nothing when a line is bad)."""
    found = server.proxy(proxy)
    counts = found.cache.import_(file)
    text = ", ".join(f"{counts.get(word, 0)} {word}" for word in ("added", "replaced", "unchanged"))
    emit(as_json, counts, f"Imported {file} into {found.name}: {text}.")


@cache.command("rm")
@on_a_proxy
@click.argument("key")
def cache_rm(server, proxy, key, as_json):
    """Delete one cached answer: KEY as `cache ls` shows it (a unique start of the key will do)."""
    found = server.proxy(proxy)
    matches = [e["key"] for e in found.cache.ls(q=key) if e["key"].startswith(key)]
    if len(matches) != 1:
        raise click.ClickException(
            f"{found.name} has no cached answer with a key starting {key!r}."
            if not matches
            else f"{len(matches)} cached answers of {found.name} have a key starting {key!r}: give more of it."
        )
    found.cache.delete(matches[0])
    emit(as_json, {"deleted": matches[0]}, f"Deleted {matches[0]} from {found.name}.")


@cache.command("clear")
@on_a_proxy
def cache_clear(server, proxy, as_json):
    """Empty a proxy's cache."""
    found = server.proxy(proxy)
    deleted = found.cache.clear()
    emit(as_json, {"deleted": deleted}, f"Cleared {deleted} cached answer(s) of {found.name}.")


@click.command()
@click.option("-f", "--file", "path", required=True, type=click.Path(exists=True, dir_okay=False), help="YAML or JSON.")
@click.option("--prune", is_flag=True, help="Also delete your proxies the file omits.")
@click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
@json_option
@pass_server
def apply(server, path, prune, dry_run, as_json):
    """Make your proxies what a declaration file says (docs/declarations.md): all of it, or nothing."""
    outcome = server.connect().apply(path, prune=prune, dry_run=dry_run)
    lines = ["Dry run: nothing was changed."] if outcome.get("dry_run") else []
    lines += [
        f"{verb}: {', '.join(outcome.get(verb) or []) or '-'}"
        for verb in ("created", "changed", "unchanged", "deleted")
    ]
    emit(as_json, outcome, "\n".join(lines))


@click.group()
def logs():
    """Your proxies' log entries."""


@logs.command("tail")
@click.argument("proxy", metavar="[NAME|ID]", required=False)
@click.option("--status", help="A status code (429) or a class (4xx).")
@click.option("--cache", type=click.Choice(["hit", "miss", "bypass"]), help="Only hits, misses or bypasses.")
@click.option("--failure", help="Only entries with this failure (timeout, error, rate_limit...; none: without).")
@click.option("--ip", help="Only entries from this client address.")
@click.option("-n", "--count", type=click.IntRange(min=1), help="Stop after this many entries.")
@json_option
@pass_server
def logs_tail(server, proxy, status, cache, failure, ip, count, as_json):
    """Print each new log entry as it happens (Ctrl-C stops), live over /ws/logs/."""
    client = server.connect()
    names = {p.id: p.name for p in client.proxies()}
    filters = {"status": status, "cache": cache, "failure": failure, "ip": ip}
    if proxy:
        filters["proxy"] = server.proxy(proxy).id
    try:
        for entry in tail.entries(client.url, server.token, filters, count):
            emit(as_json, entry, tail.line(entry, names))
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a tail ends


commands = [proxies, failures, cache, apply, logs]

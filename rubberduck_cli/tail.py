"""`logs tail`: each new log entry, live over /ws/logs/ with the API token (the REST API's filters apply)."""

import json
from collections.abc import Iterator
from urllib.parse import urlencode, urlsplit, urlunsplit

import click
from websockets.exceptions import ConnectionClosedError, InvalidHandshake, InvalidStatus
from websockets.sync.client import connect


def socket_url(base: str, filters: dict) -> str:
    parts = urlsplit(base)
    scheme = "wss" if parts.scheme == "https" else "ws"
    query = urlencode({name: value for name, value in filters.items() if value not in (None, "")})
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws/logs/", query, ""))


def entries(base: str, token: str | None, filters: dict, count: int | None) -> Iterator[dict]:
    """The entries as they come, until `count` of them (None: until the server closes the stream)."""
    headers = {"Authorization": f"Token {token}"} if token else {}
    seen = 0
    try:
        with connect(socket_url(base, filters), additional_headers=headers, open_timeout=10) as socket:
            for message in socket:
                data = json.loads(message)
                if data.get("type") == "log":
                    yield data["entry"]
                    seen += 1
                    if seen == count:
                        return
    except InvalidStatus as e:
        # The socket is refused before it opens: a bad filter, or a token revoked since the command began.
        status = e.response.status_code
        raise click.ClickException(f"The server refused the log stream (HTTP {status}): check the filters.") from None
    except ConnectionClosedError as e:
        raise click.ClickException(f"The log stream broke off: {e}") from None
    except (OSError, InvalidHandshake) as e:
        raise click.ClickException(f"Cannot reach Rubberduck at {base}: {e}") from None
    raise click.ClickException("The server closed the log stream.")


def line(entry: dict, names: dict[int, str]) -> str:
    """One entry for people: when, which proxy, the request, its answer, and what it cost."""
    parts = [
        entry["timestamp"],
        names.get(entry["proxy"], f"#{entry['proxy']}"),
        entry["method"],
        entry["path"],
        str(entry["status_code"]),
        entry["cache"],
        f"{entry['latency_ms']:.0f} ms",
    ]
    if entry.get("failure"):
        parts.append(f"failure={entry['failure']}")
    if entry.get("model"):
        parts.append(entry["model"])
    if entry.get("prompt_tokens") is not None or entry.get("completion_tokens") is not None:
        parts.append(f"{entry.get('prompt_tokens') or 0}+{entry.get('completion_tokens') or 0} tokens")
    if entry.get("cost_usd"):
        parts.append(f"${entry['cost_usd']}")
    return "  ".join(parts)

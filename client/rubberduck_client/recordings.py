"""A test suite's recordings (the pytest plugin's --rubberduck-record-mode): one file per proxy name,
`<name>.rubberduck.jsonl` in a directory, in the server's recording format (docs/recordings.md): a header line,
then one entry a line, sorted by key.

Modes, as pytest-recording's: `none` replays every proxy from its file (a call not recorded fails with the
provider's own error); `once` replays a proxy whose file existed before the run and records one whose file did
not; `all` records every proxy afresh (its file is rewritten with what this run asked). A recording proxy's
entries are written back once the run ends, and only when they changed, so a rerun leaves no diff.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rubberduck_client.errors import RubberduckError
from rubberduck_client.sync import Proxy
from rubberduck_client.transport import file_mode

MODES = ("none", "once", "all")
SUFFIX = ".rubberduck.jsonl"


@dataclass
class Recording:
    """A recording file's header and its entry lines by key, each line as the server wrote it."""

    header: dict
    entries: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> Recording:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not lines:
            raise ValueError(f"{path} is empty: a recording starts with its header line")
        return cls(json.loads(lines[0]), {json.loads(line)["key"]: line for line in lines[1:]})

    def merged(self, newer: Recording) -> Recording:
        """This recording with `newer`'s entries over it, under `newer`'s header."""
        return Recording(newer.header, {**self.entries, **newer.entries})

    def text(self) -> str:
        header = {**self.header, "entries": len(self.entries)}
        return "".join(
            f"{line}\n"
            for line in [
                json.dumps(header, sort_keys=True, separators=(",", ":")),
                *(self.entries[k] for k in sorted(self.entries)),
            ]
        )


@dataclass
class Attached:
    proxy: Proxy
    name: str  # its recording's
    previous_mode: str | None  # to restore at the end, for a proxy the plugin did not make


class Recordings:
    def __init__(self, mode: str, directory: Path):
        if mode not in MODES:
            raise ValueError(f"record mode {mode!r}: choose one of {', '.join(MODES)}")
        self.mode = mode
        self.directory = directory
        self.existed: dict[str, bool] = {}  # whether a name's file was there when the run first met the name
        self.recorded: dict[str, Recording] = {}  # what this run recorded, by name
        self.kept: list[Attached] = []  # proxies the plugin did not make, detached at the end
        self.written: list[Path] = []

    def path(self, name: str) -> Path:
        return self.directory / f"{name}{SUFFIX}"

    def names_on_disk(self) -> list[str]:
        found = sorted(self.directory.glob(f"*{SUFFIX}")) if self.directory.is_dir() else []
        return [path.name.removesuffix(SUFFIX) for path in found]

    def replaying(self, name: str) -> bool:
        """Whether the proxy of this recording answers only from it (else it records)."""
        existed = self.existed.setdefault(name, self.path(name).exists())
        return self.mode == "none" or (self.mode == "once" and existed)

    def cache_mode(self, name: str, made: bool = True) -> str:
        """`replay`, or else `record`; but `refresh` in mode all for a proxy the plugin did not make, whose old
        answers must not be replayed. One the plugin made starts empty: recording asks the upstream for every
        answer anew, and a repeat within the run is still answered from the cache, as without recordings."""
        if self.replaying(name):
            return "replay"
        return "refresh" if self.mode == "all" and not made else "record"

    def attach(self, proxy: Proxy, name: str | None = None, keep: bool = False) -> None:
        """Loads the proxy's recording when it replays, and sets its cache mode. `keep`: a proxy the plugin did
        not make, whose mode is restored (and whose recording is taken) at the end."""
        name = name or proxy.name
        previous = proxy.cache_mode if keep else None
        if self.replaying(name) and self.path(name).exists():
            proxy.cache.import_(self.path(name))
        proxy.update(cache_mode=self.cache_mode(name, made=not keep))
        if keep:
            self.kept.append(Attached(proxy, name, previous))

    def detach(self, proxy: Proxy, name: str | None = None, stop: bool = False) -> None:
        """Takes what a recording proxy holds; nothing for a replaying one. `stop`: for a proxy about to be
        deleted, stopped first, since a stopping proxy hands the answers it has not stored yet (it stores them a
        fraction of a second after serving them) to the database, where the export reads."""
        name = name or proxy.name
        if self.replaying(name):
            return
        if stop:
            proxy.stop()
        with tempfile.TemporaryDirectory(prefix="rubberduck-") as scratch:
            taken = Recording.read(proxy.cache.export(Path(scratch) / f"{name}{SUFFIX}"))
        so_far = self.recorded.get(name)
        self.recorded[name] = so_far.merged(taken) if so_far else taken

    def finish(self) -> list[Path]:
        """Detaches the kept proxies (restoring their modes), then writes each changed recording."""
        for kept in reversed(self.kept):
            try:
                self.detach(kept.proxy, kept.name)
                if kept.previous_mode is not None:
                    kept.proxy.update(cache_mode=kept.previous_mode)
            except RubberduckError as e:
                if e.status != 404:  # a proxy the suite deleted has nothing left to take or restore
                    raise
        self.kept.clear()
        for name, recording in sorted(self.recorded.items()):
            path = self.path(name)
            if path.exists() and Recording.read(path).entries == recording.entries:
                continue  # the same answers: the file stays as it is (its header's export time too)
            write(path, recording.text())
            self.written.append(path)
        return self.written


def write(path: Path, text: str) -> None:
    """Whole or not at all: a temporary file beside it, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(name, file_mode(path))
    os.replace(name, path)

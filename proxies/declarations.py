"""Declaration files: a document lists one owner's proxies by name; applying it makes them so, all or nothing.

The document (YAML or JSON; see docs/declarations.md):
    {"version": 1, "prune": false, "proxies": [{"name": "dev", "provider": "openai", "model_name": "m", ...}]}
A proxy's fields are those of the REST API (ProxySerializer) plus its `failures` (FailureConfigSerializer);
a field left out takes its default, except `port`, which an existing proxy keeps and a new one is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from django.db import IntegrityError, transaction
from django.db.models import F
from rest_framework.settings import api_settings

from proxies import services
from proxies.failures_schema import FailureConfigSerializer
from proxies.models import Proxy
from proxies.serializers import ProxySerializer

VERSION = 1
TOP_LEVEL = {"version", "prune", "proxies"}
# While ports move between an owner's proxies in one apply, each is parked out of range so none collides.
PARKED_PORT_BASE = 1_000_000


class DeclarationError(Exception):
    """A document that cannot be applied; `errors` lists each problem as {"path", "message"}."""

    def __init__(self, errors: list[dict]):
        super().__init__(f"{len(errors)} error(s) in the declaration")
        self.errors = errors


@dataclass
class Outcome:
    created: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    dry_run: bool = False

    def as_dict(self) -> dict:
        return {
            "created": self.created,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "dry_run": self.dry_run,
        }


@dataclass
class Declared:
    """One validated entry: the fields it wants (defaults filled in) and the proxy of its name, if any."""

    path: str
    fields: dict
    port: int | None  # the port it ends on: declared, else the existing proxy's; None: a free one is assigned
    proxy: Proxy | None

    @property
    def name(self) -> str:
        return self.fields["name"]

    def changes(self) -> dict:
        wanted = self.fields if self.port is None else {**self.fields, "port": self.port}
        return {name: value for name, value in wanted.items() if getattr(self.proxy, name) != value}


class DeclaredProxySerializer(ProxySerializer):
    """ProxySerializer's rules, except that ports are checked against other owners' proxies only: the owner's
    own are checked on the state the whole document leaves (see `port_errors`)."""

    def port_clashes(self, port: int):
        return Proxy.objects.filter(port=port).exclude(owner=self.context["owner"])


def load(text: str | bytes) -> object:
    """Parses a document; YAML reads JSON too."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise DeclarationError([{"path": "", "message": f"Not valid YAML or JSON: {e}"}]) from None


def load_file(path: str | Path) -> object:
    try:
        return load(Path(path).read_bytes())
    except OSError as e:
        raise DeclarationError([{"path": "", "message": f"Cannot read {path}: {e.strerror}"}]) from None


def apply(owner, document, *, prune: bool = False, dry_run: bool = False) -> Outcome:
    """Validates the whole document, then creates, changes and (with prune) deletes the owner's proxies in one
    transaction. Raises DeclarationError, having changed nothing, when anything in it is wrong."""
    try:
        with transaction.atomic():
            existing = {p.name: p for p in Proxy.objects.select_for_update().filter(owner=owner)}
            declared, prune = validate(owner, document, existing, prune)
            outcome = plan(declared, existing, prune, dry_run)
            if not dry_run:
                write(owner, declared, [existing[name] for name in outcome.deleted])
    except IntegrityError:
        # Only a concurrent write can get here: validation saw a free name or port that was then taken.
        raise DeclarationError(
            [{"path": "proxies", "message": "Another change got there first; apply again."}]
        ) from None
    if not dry_run:
        services.nudge()
    return outcome


def validate(owner, document, existing: dict[str, Proxy], prune: bool) -> tuple[list[Declared], bool]:
    errors: list[dict] = []
    if not isinstance(document, Mapping):
        raise DeclarationError([{"path": "", "message": "A mapping with a `proxies` list is required."}])
    errors += [{"path": key, "message": "Unknown field."} for key in sorted(set(map(str, document)) - TOP_LEVEL)]
    version = document.get("version", VERSION)
    if version != VERSION or isinstance(version, bool):
        errors.append({"path": "version", "message": f"Only version {VERSION} exists."})
    if not isinstance(document.get("prune", False), bool):
        errors.append({"path": "prune", "message": "Must be true or false."})
    prune = prune or document.get("prune") is True
    entries = document.get("proxies")
    if not isinstance(entries, list):
        errors.append({"path": "proxies", "message": "A list of proxies is required."})
        entries = []

    declared = []
    writable = {key for key, f in DeclaredProxySerializer().fields.items() if not f.read_only}
    for index, entry in enumerate(entries):
        item, item_errors = validate_entry(owner, f"proxies[{index}]", entry, existing, writable)
        errors += item_errors
        if item is not None:
            declared.append(item)
    errors += name_errors(declared)
    errors += port_errors(declared, existing, prune)
    if errors:
        raise DeclarationError(errors)
    return declared, prune


def validate_entry(owner, path: str, entry, existing: dict[str, Proxy], writable: set[str]):
    """The entry as a Declared, or None and its errors."""
    if not isinstance(entry, Mapping):
        return None, [{"path": path, "message": "A mapping of the proxy's fields is required."}]
    name = entry.get("name")
    proxy = existing.get(name) if isinstance(name, str) else None
    errors = [
        {"path": f"{path}.{key}", "message": "Unknown field."}
        for key in sorted(set(map(str, entry)) - writable - {"failures"})
    ]

    data = {**defaults(writable), **{key: value for key, value in entry.items() if key in writable}}
    serializer = DeclaredProxySerializer(instance=proxy, data=data, context={"owner": owner})
    if not serializer.is_valid():
        errors += error_paths(serializer.errors, path)
    failures = entry.get("failures")
    failures = FailureConfigSerializer(data={} if failures is None else failures)  # YAML's empty `failures:`
    if not failures.is_valid():
        errors += error_paths(failures.errors, f"{path}.failures")
    if errors:
        return None, errors

    fields = dict(serializer.validated_data)
    port = fields.pop("port", None) or (proxy.port if proxy else None)
    return Declared(path, {**fields, "failures": failures.to_config()}, port, proxy), []


def defaults(writable: set[str]) -> dict:
    """The model's default of every writable field that has one: what a field left out of a declaration is."""
    fields = [Proxy._meta.get_field(name) for name in writable]
    return {f.name: f.get_default() for f in fields if f.has_default()}


def name_errors(declared: list[Declared]) -> list[dict]:
    first: dict[str, Declared] = {}
    errors = []
    for item in declared:
        if item.name in first:
            errors.append({"path": f"{item.path}.name", "message": f"Also declared by {first[item.name].path}."})
        first.setdefault(item.name, item)
    return errors


def port_errors(declared: list[Declared], existing: dict[str, Proxy], prune: bool) -> list[dict]:
    """Clashes in the state the document leaves: two declared proxies on one port, or a declared one on the port
    of an undeclared proxy of the owner that stays (without prune)."""
    names = {item.name for item in declared}
    holders = (
        {}
        if prune
        else {p.port: f"your proxy {p.name!r}, which is not declared" for p in existing.values() if p.name not in names}
    )
    errors = []
    for item in declared:
        if item.port is None:
            continue
        if item.port in holders:
            errors.append(
                {"path": f"{item.path}.port", "message": f"Port {item.port} is also used by {holders[item.port]}."}
            )
        holders.setdefault(item.port, item.path)
    return errors


def error_paths(detail, path: str) -> list[dict]:
    """DRF's nested errors as a flat list, each with its path: proxies[2].failures.errors[0].rate."""
    if isinstance(detail, Mapping):
        out = []
        for key, value in detail.items():
            if key == api_settings.NON_FIELD_ERRORS_KEY:
                sub = path
            elif isinstance(key, int):
                sub = f"{path}[{key}]"
            else:
                sub = f"{path}.{key}" if path else str(key)
            out += error_paths(value, sub)
        return out
    if isinstance(detail, list):
        out = []
        for index, value in enumerate(detail):
            out += (
                error_paths(value, f"{path}[{index}]")
                if isinstance(value, Mapping | list)
                else error_paths(value, path)
            )
        return out
    return [{"path": path, "message": str(detail)}]


def plan(declared: list[Declared], existing: dict[str, Proxy], prune: bool, dry_run: bool) -> Outcome:
    outcome = Outcome(dry_run=dry_run)
    for item in declared:
        if item.proxy is None:
            outcome.created.append(item.name)
        elif item.changes():
            outcome.changed.append(item.name)
        else:
            outcome.unchanged.append(item.name)
    if prune:
        names = {item.name for item in declared}
        outcome.deleted = [name for name in existing if name not in names]  # in id order, as queried
    return outcome


def write(owner, declared: list[Declared], doomed: list[Proxy]) -> None:
    for proxy in doomed:
        services.proxy_delete(proxy=proxy)
    changed = [(item, item.changes()) for item in declared if item.proxy is not None]
    changed = [(item, changes) for item, changes in changed if changes]
    moving = [item.proxy.pk for item, changes in changed if "port" in changes]
    Proxy.objects.filter(pk__in=moving).update(port=F("id") + PARKED_PORT_BASE)
    for item, changes in changed:
        services.proxy_update(proxy=item.proxy, **changes)
    # Declared ports first, so a proxy given a free port never takes one that a later entry declares.
    for item in sorted((item for item in declared if item.proxy is None), key=lambda item: item.port is None):
        try:
            services.proxy_create(owner=owner, port=item.port, **item.fields)
        except services.NoFreePort as e:
            raise DeclarationError([{"path": f"{item.path}.port", "message": str(e)}]) from None

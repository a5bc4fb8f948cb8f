"""Declarations (`rd.apply`) and clones through the client, against a real server."""

import json
import secrets

import pytest

from rubberduck_client import RubberduckError


@pytest.fixture
def names(rubberduck):
    """Two fresh proxy names; whatever proxies got them are deleted after the test."""
    made = [f"declared-{secrets.token_hex(3)}" for _ in range(2)]
    yield made
    for proxy in rubberduck.proxies():
        if proxy.name in made or proxy.name.startswith(tuple(made)):
            proxy.delete(missing_ok=True)


def declaration(*proxies: dict) -> dict:
    return {"version": 1, "proxies": list(proxies)}


def test_it_applies_a_declaration_document_and_file(rubberduck, names, tmp_path):
    dev, other = names
    doc = declaration(
        {"name": dev, "provider": "openai", "model_name": "m", "failures": {"rpm_limit": 60}},
        {"name": other, "provider": "anthropic", "model_name": "c"},
    )

    created = rubberduck.apply(doc)
    assert (sorted(created["created"]), created["changed"], created["deleted"]) == (sorted(names), [], [])
    assert rubberduck.get_proxy(dev).failures() == {"rpm_limit": 60}

    file = tmp_path / "rubberduck.json"
    file.write_text(json.dumps(declaration({"name": dev, "provider": "openai", "model_name": "m2"})))
    changed = rubberduck.apply(file, prune=True, dry_run=True)
    assert (changed["changed"], changed["dry_run"]) == ([dev], True)
    assert other in changed["deleted"]
    assert rubberduck.get_proxy(other).name == other  # a dry run changes nothing

    yaml_file = tmp_path / "rubberduck.yaml"
    yaml_file.write_text(f"version: 1\nproxies:\n  - {{name: {dev}, provider: openai, model_name: m2}}\n")
    assert rubberduck.apply(str(yaml_file))["changed"] == [dev]
    assert rubberduck.get_proxy(dev).model_name == "m2"
    assert rubberduck.get_proxy(dev).failures() == {}  # left out of the declaration: off


def test_it_raises_a_declarations_errors_by_path(rubberduck, names):
    doc = declaration({"name": names[0], "provider": "nope", "model_name": "m", "failures": {"seed": "x"}})
    with pytest.raises(RubberduckError) as bad:
        rubberduck.apply(doc)
    assert bad.value.status == 400 and "nothing was changed" in bad.value.message
    assert set(bad.value.field_errors) == {"proxies[0].provider", "proxies[0].failures.seed"}


def test_it_clones_a_proxy(rubberduck, names):
    source = rubberduck.create_proxy(names[0], provider="openai", model_name="m")
    source.set_failures(errors={500: 0.5})

    named = source.clone(names[1])
    default = source.clone()

    assert named.name == names[1] and default.name == f"{names[0]}-copy"
    assert named.status == default.status == "running"
    assert len({source.port, named.port, default.port}) == 3
    assert named.failures() == {"errors": [{"status": 500, "rate": 0.5}]}

"""The provider registry: every module in this package that ends with `provider_classes = [...]`."""

import importlib
import pkgutil

from providers.base import Provider

_registry: dict[str, Provider] | None = None


def _load() -> dict[str, Provider]:
    found: dict[str, Provider] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for cls in getattr(module, "provider_classes", ()):
            if cls.id in found:
                raise RuntimeError(f"Duplicate provider id {cls.id!r} in {module.__name__}")
            found[cls.id] = cls()
    return found


def registry() -> dict[str, Provider]:
    global _registry
    if _registry is None:
        _registry = _load()
    return _registry


def get(provider_id: str) -> Provider:
    """The provider with this id; KeyError if there is none."""
    return registry()[provider_id]

"""Cost from the maintained genai-prices tables; a model they do not know costs None, never a guess."""

from __future__ import annotations

import time
from decimal import Decimal
from functools import lru_cache


def tables():
    """genai-prices, imported by the first row that has a usage to price (on the log writer's thread): its tables
    and the pydantic and HTTP libraries it brings are ~9 MiB that an idle server never needs (D98)."""
    import genai_prices

    return genai_prices


@lru_cache(maxsize=1024)
def _known(provider_id: str, model: str) -> bool:
    genai_prices = tables()
    try:
        genai_prices.calc_price(genai_prices.Usage(input_tokens=1), model, provider_id=provider_id)
        return True
    except (LookupError, ValueError):
        return False


def cost_usd(provider_id, model, input_tokens, output_tokens, cache_read, cache_write) -> Decimal | None:
    if not (provider_id and model) or (input_tokens is None and output_tokens is None):
        return None
    if not _known(provider_id, model):
        return None
    # genai-prices is slow per call and rows repeat a few usages: memoise per minute, as prices can vary by time (D22).
    minute = int(time.time() // 60)
    return _price(provider_id, model, input_tokens, output_tokens, cache_read, cache_write, minute)


@lru_cache(maxsize=4096)
def _price(provider_id, model, input_tokens, output_tokens, cache_read, cache_write, minute) -> Decimal | None:
    genai_prices = tables()
    priced = genai_prices.Usage(
        input_tokens=input_tokens or 0,
        output_tokens=output_tokens or 0,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )
    try:
        return Decimal(genai_prices.calc_price(priced, model, provider_id=provider_id).total_price).quantize(
            Decimal("1e-8")
        )
    except (LookupError, ValueError):
        return None

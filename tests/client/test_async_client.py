"""The async client against a real server, through the openai SDK's async client and a fake upstream."""

import asyncio
import secrets

import openai
import pytest

from rubberduck_client import AsyncProxy, AsyncRubberduck, RubberduckError


async def status_of(proxy: AsyncProxy) -> int:
    client = openai.AsyncOpenAI(base_url=proxy.base_url, api_key="sk-test", max_retries=0)
    try:
        answer = await client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hi"}]
        )
        return answer.status_code
    except openai.APIStatusError as e:
        return e.status_code
    finally:
        await client.close()


async def answers(proxy: AsyncProxy, status: int) -> bool:
    return await status_of(proxy) == status


async def eventually(check):
    """A running proxy takes an edit within one reconcile tick (docs/failures.md), its log within a flush."""
    for _ in range(200):
        if result := await check():
            return result
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_it_ensures_fails_and_restores_a_proxy(async_rubberduck: AsyncRubberduck, openai_upstream):
    name = f"async-{secrets.token_hex(3)}"
    settings = {"provider": "openai", "model_name": "gpt-4o-mini", "upstream_url": openai_upstream.url + "/v1"}
    proxy = await async_rubberduck.proxy(name, **settings)
    try:
        assert (await async_rubberduck.proxy(name, **settings)).id == proxy.id
        assert proxy.status == "running"
        assert await status_of(proxy) == 200

        async with proxy.failing(errors={503: 1.0}, seed=1):
            assert await proxy.failures() == {"errors": [{"status": 503, "rate": 1.0}], "seed": 1}
            await eventually(lambda: answers(proxy, 503))

        assert await proxy.failures() == {}
        await eventually(lambda: answers(proxy, 200))
        assert await proxy.cache.clear() >= 0

        entries = await eventually(lambda: proxy.logs(failure="error"))
        assert entries and {e["status_code"] for e in entries} == {503}
    finally:
        await proxy.delete()
    assert name not in [p.name for p in await async_rubberduck.proxies()]


async def test_it_raises_the_servers_field_errors(async_rubberduck):
    with pytest.raises(RubberduckError) as bad:
        await async_rubberduck.create_proxy(f"bad-{secrets.token_hex(3)}", provider="openai")
    assert bad.value.status == 400 and list(bad.value.field_errors) == ["model_name"]


async def test_it_resets_every_proxy(async_rubberduck, rubberduck_proxy):
    made = rubberduck_proxy("openai", model_name="m", upstream_url="http://127.0.0.1:9/v1")
    made.set_failures(rpm_limit=3)
    await async_rubberduck.reset()
    assert await (await async_rubberduck.get_proxy(made.name)).failures() == {}

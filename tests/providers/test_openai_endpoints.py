"""OpenAI's moderation, image and audio endpoints end to end: the official openai SDK -> a real proxy -> the fake
api.openai.com (and a fake Azure OpenAI resource). Uploads are multipart forms, for which the SDK draws a new random
boundary on every call; speech answers with audio bytes."""

import threading

import httpx
import openai
import pytest

from logs.pricing import cost_usd
from tests.conftest import flushed_logs, run_async, set_failures, wait_until
from tests.fakes import azure_openai as fake_azure
from tests.fakes import openai as fake
from tests.fakes.server import FakeUpstream, Received, Reply

# Audio whose bytes look like multipart framing, so a parser that split on anything but the boundary would show.
AUDIO = ("speech.mp3", b"ID3\x04fake audio\r\n--not-the-boundary\r\n\r\nmore", "audio/mpeg")
OTHER_AUDIO = ("speech.mp3", b"ID3\x04other audio", "audio/mpeg")
IMAGE = ("duck.png", fake.PNG, "image/png")
TEXT = "Hello from the fake upstream!"


@pytest.fixture
def proxy(make_proxy, openai_upstream):
    return make_proxy("openai", upstream_url=openai_upstream.url + "/v1")


def client_for(proxy, **kw):
    return openai.OpenAI(base_url=proxy["base_url"], api_key="sk-media", max_retries=0, **kw)


def logs(runner, proxy, count):
    """The proxy's log entries once `count` are written."""
    return wait_until(lambda: (entries := flushed_logs(runner, proxy["id"])) and len(entries) >= count and entries)


def cache_states(*responses):
    return [r.headers["x-rubberduck-cache"] for r in responses]


def form_of(received: Received) -> dict:
    return fake.read_form(received)


def test_it_forwards_and_caches_moderations(proxy, openai_upstream, runner):
    client = client_for(proxy)
    first = client.moderations.with_raw_response.create(model="omni-moderation-latest", input="I like ducks")
    second = client.moderations.with_raw_response.create(model="omni-moderation-latest", input="I like ducks")

    assert cache_states(first, second) == ["miss", "hit"]
    assert first.parse().results[0].flagged is False
    assert first.parse().model_dump() == second.parse().model_dump()
    assert [r.path for r in openai_upstream.requests] == ["/v1/moderations"]
    assert openai_upstream.requests[0].headers["authorization"] == "Bearer sk-media"
    entries = logs(runner, proxy, 2)
    assert [(e.cache, e.model, e.prompt_tokens, e.cost_usd) for e in entries] == [
        ("miss", "omni-moderation-latest", None, None),
        ("hit", "omni-moderation-latest", None, None),
    ]


def test_it_caches_a_generated_image_and_logs_its_tokens_and_cost(proxy, openai_upstream, runner):
    client = client_for(proxy)
    first = client.images.with_raw_response.generate(model="gpt-image-1", prompt="a duck", quality="low")
    second = client.images.with_raw_response.generate(model="gpt-image-1", prompt="a duck", quality="low")
    other = client.images.with_raw_response.generate(model="gpt-image-1", prompt="a goose", quality="low")

    assert cache_states(first, second, other) == ["miss", "hit", "miss"]
    assert second.parse().data[0].b64_json == first.parse().data[0].b64_json
    assert second.parse().usage.output_tokens == 272
    assert [r.path for r in openai_upstream.requests] == ["/v1/images/generations"] * 2
    entries = logs(runner, proxy, 3)
    assert [(e.cache, e.model, e.prompt_tokens, e.completion_tokens) for e in entries] == [
        ("miss", "gpt-image-1", 50, 272),
        ("hit", "gpt-image-1", 50, 272),
        ("miss", "gpt-image-1", 50, 272),
    ]
    expected = cost_usd("openai", "gpt-image-1", input_tokens=50, output_tokens=272, cache_read=None, cache_write=None)
    assert entries[0].cost_usd == entries[1].cost_usd == expected > 0


def test_a_streamed_image_generation_is_replayed_as_a_stream(proxy, openai_upstream, runner):
    client = client_for(proxy)
    kwargs = dict(model="gpt-image-1", prompt="a duck", stream=True, partial_images=1)
    live = list(client.images.generate(**kwargs))
    replay = client.images.with_raw_response.generate(**kwargs)
    replayed = list(replay.parse())

    assert replay.headers["x-rubberduck-cache"] == "hit"
    assert replay.headers["content-type"].startswith("text/event-stream") and "content-length" not in replay.headers
    assert (
        [e.type for e in live]
        == [e.type for e in replayed]
        == [
            "image_generation.partial_image",
            "image_generation.completed",
        ]
    )
    assert replayed[-1].usage.total_tokens == 322
    assert len(openai_upstream.requests) == 1
    entries = logs(runner, proxy, 2)
    assert [(e.cache, e.prompt_tokens, e.completion_tokens) for e in entries] == [("miss", 50, 272), ("hit", 50, 272)]


def test_an_image_edit_is_keyed_on_its_form_parts_not_its_boundary(proxy, openai_upstream, runner):
    client = client_for(proxy)

    def edit(image=IMAGE, prompt="add a hat"):
        return client.images.with_raw_response.edit(model="gpt-image-1", image=image, prompt=prompt)

    first, second = edit(), edit()
    other_image = edit(image=("duck.png", fake.PNG + b"\x00", "image/png"))
    other_prompt = edit(prompt="add a scarf")

    assert first.http_request.headers["content-type"] != second.http_request.headers["content-type"]
    assert cache_states(first, second, other_image, other_prompt) == ["miss", "hit", "miss", "miss"]
    assert second.parse().data[0].b64_json == first.parse().data[0].b64_json
    sent = openai_upstream.requests[0]
    assert sent.path == "/v1/images/edits" and sent.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert form_of(sent)["image"] == ("duck.png", fake.PNG)  # forwarded byte for byte
    assert len(openai_upstream.requests) == 3
    entries = logs(runner, proxy, 4)
    assert [(e.cache, e.model, e.prompt_tokens) for e in entries] == [
        ("miss", "gpt-image-1", 50),  # the model comes from the form's `model` field
        ("hit", "gpt-image-1", 50),
        ("miss", "gpt-image-1", 50),
        ("miss", "gpt-image-1", 50),
    ]
    assert entries[0].prompt_hash == entries[1].prompt_hash != entries[2].prompt_hash != entries[3].prompt_hash


def test_a_streamed_image_edit_is_decided_by_its_form_and_replayed_as_a_stream(proxy, openai_upstream, runner):
    client = client_for(proxy)
    kwargs = dict(model="gpt-image-1", image=IMAGE, prompt="add a hat", stream=True, partial_images=1)
    live = list(client.images.edit(**kwargs))
    replay = client.images.with_raw_response.edit(**kwargs)
    replayed = list(replay.parse())

    assert replay.headers["x-rubberduck-cache"] == "hit"
    assert [e.type for e in live] == [e.type for e in replayed] == ["image_edit.partial_image", "image_edit.completed"]
    assert form_of(openai_upstream.requests[0])["stream"] == (None, b"true")
    assert len(openai_upstream.requests) == 1
    entries = logs(runner, proxy, 2)
    assert [(e.cache, e.model, e.completion_tokens) for e in entries] == [
        ("miss", "gpt-image-1", 272),
        ("hit", "gpt-image-1", 272),
    ]


def test_it_caches_image_variations(proxy, openai_upstream):
    client = client_for(proxy)
    first = client.images.with_raw_response.create_variation(image=IMAGE, n=1)
    second = client.images.with_raw_response.create_variation(image=IMAGE, n=1)
    assert cache_states(first, second) == ["miss", "hit"]
    assert second.parse().data[0].url == "https://images.example/fake.png"
    assert [r.path for r in openai_upstream.requests] == ["/v1/images/variations"]


def test_speech_is_relayed_as_audio_and_replayed_byte_identical(proxy, openai_upstream, runner):
    client = client_for(proxy)
    kwargs = dict(model="gpt-4o-mini-tts", voice="alloy", input="Say hello")
    first = client.audio.speech.with_raw_response.create(**kwargs)
    second = client.audio.speech.with_raw_response.create(**kwargs)

    assert cache_states(first, second) == ["miss", "hit"]
    assert first.content == second.content == fake.SPEECH
    assert first.headers["content-type"] == second.headers["content-type"] == "audio/mpeg"
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert [r.path for r in openai_upstream.requests] == ["/v1/audio/speech"]
    assert openai_upstream.requests[0].headers["accept"] == "application/octet-stream"
    entries = logs(runner, proxy, 2)
    assert [(e.cache, e.model, e.prompt_tokens) for e in entries] == [
        ("miss", "gpt-4o-mini-tts", None),
        ("hit", "gpt-4o-mini-tts", None),
    ]


def test_speech_reaches_the_client_while_it_is_still_being_made(proxy, openai_upstream):
    """The upstream holds its second chunk until the client has the first: a proxy that waited for the whole
    file would leave the client waiting for bytes until its read timeout."""
    gate = threading.Event()

    def chunks():
        yield fake.SPEECH[:4096]
        gate.wait(10)
        yield fake.SPEECH[4096:]

    openai_upstream.queue(Reply(200, [("content-type", "audio/mpeg")], chunks=chunks()))
    client = client_for(proxy, timeout=5)
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input="slow") as response:
        pieces = response.iter_bytes()
        first = next(pieces)
        gate.set()
        rest = b"".join(pieces)
    assert first and fake.SPEECH.startswith(first)
    assert first + rest == fake.SPEECH
    again = client.audio.speech.with_raw_response.create(model="tts-1", voice="alloy", input="slow")
    assert again.headers["x-rubberduck-cache"] == "hit" and again.content == fake.SPEECH


def test_speech_as_events_logs_its_usage_and_replays_the_same_events(proxy, openai_upstream, runner):
    client = client_for(proxy)
    kwargs = dict(model="gpt-4o-mini-tts", voice="alloy", input="Say hello", stream_format="sse")
    first = client.audio.speech.with_raw_response.create(**kwargs)
    second = client.audio.speech.with_raw_response.create(**kwargs)

    assert cache_states(first, second) == ["miss", "hit"]
    assert first.content == second.content and first.content.endswith(b'"total_tokens": 115}}\n\n')
    assert second.headers["content-type"].startswith("text/event-stream")
    entries = logs(runner, proxy, 2)
    assert [(e.cache, e.model, e.prompt_tokens, e.completion_tokens) for e in entries] == [
        ("miss", "gpt-4o-mini-tts", 14, 101),
        ("hit", "gpt-4o-mini-tts", 14, 101),
    ]
    assert entries[0].cost_usd > 0


def test_a_transcription_is_keyed_on_its_file_and_fields_and_priced(proxy, openai_upstream, runner):
    client = client_for(proxy)

    def transcribe(file=AUDIO, **kw):
        return client.audio.transcriptions.with_raw_response.create(model="gpt-4o-transcribe", file=file, **kw)

    first, second = transcribe(), transcribe()
    other_file = transcribe(file=OTHER_AUDIO)
    as_text = transcribe(response_format="text")
    as_text_again = transcribe(response_format="text")

    assert first.http_request.headers["content-type"] != second.http_request.headers["content-type"]
    assert cache_states(first, second, other_file, as_text, as_text_again) == ["miss", "hit", "miss", "miss", "hit"]
    assert second.parse().text == TEXT and second.parse().usage.input_tokens == 14
    assert as_text_again.parse() == TEXT + "\n"
    sent = openai_upstream.requests[0]
    assert sent.path == "/v1/audio/transcriptions"
    assert form_of(sent)["file"] == (AUDIO[0], AUDIO[1]) and form_of(sent)["model"] == (None, b"gpt-4o-transcribe")
    assert len(openai_upstream.requests) == 3
    entries = logs(runner, proxy, 5)
    assert [(e.cache, e.model, e.prompt_tokens, e.completion_tokens) for e in entries[:3]] == [
        ("miss", "gpt-4o-transcribe", 14, 45),
        ("hit", "gpt-4o-transcribe", 14, 45),
        ("miss", "gpt-4o-transcribe", 14, 45),
    ]
    expected = cost_usd(
        "openai", "gpt-4o-transcribe", input_tokens=14, output_tokens=45, cache_read=None, cache_write=None
    )
    assert entries[0].cost_usd == entries[1].cost_usd == expected > 0
    assert entries[3].prompt_tokens is None  # plain text carries no usage


def test_a_streamed_transcription_is_replayed_as_a_stream(proxy, openai_upstream, runner):
    client = client_for(proxy)
    kwargs = dict(model="gpt-4o-mini-transcribe", file=AUDIO, stream=True)
    live = list(client.audio.transcriptions.create(**kwargs))
    replay = client.audio.transcriptions.with_raw_response.create(**kwargs)
    replayed = list(replay.parse())

    assert replay.headers["x-rubberduck-cache"] == "hit"
    assert replay.headers["content-type"].startswith("text/event-stream") and "content-length" not in replay.headers
    assert (
        [e.type for e in live] == [e.type for e in replayed] == ["transcript.text.delta"] * 6 + ["transcript.text.done"]
    )
    assert "".join(e.delta for e in replayed[:-1]) == replayed[-1].text == TEXT
    assert replayed[-1].usage.output_tokens == 45
    assert len(openai_upstream.requests) == 1
    entries = logs(runner, proxy, 2)
    assert [(e.cache, e.model, e.prompt_tokens, e.completion_tokens) for e in entries] == [
        ("miss", "gpt-4o-mini-transcribe", 14, 45),
        ("hit", "gpt-4o-mini-transcribe", 14, 45),
    ]


def test_whisper_transcriptions_and_translations_are_cached_without_tokens(proxy, openai_upstream, runner):
    client = client_for(proxy)
    transcribed = [client.audio.transcriptions.with_raw_response.create(model="whisper-1", file=AUDIO) for _ in "ab"]
    translated = [client.audio.translations.with_raw_response.create(model="whisper-1", file=AUDIO) for _ in "ab"]

    assert cache_states(*transcribed, *translated) == ["miss", "hit", "miss", "hit"]
    assert transcribed[1].parse().usage.seconds == 3  # whisper-1 bills seconds, which carry no token count
    assert translated[1].parse().text == TEXT
    assert [r.path for r in openai_upstream.requests] == ["/v1/audio/transcriptions", "/v1/audio/translations"]
    entries = logs(runner, proxy, 4)
    assert [(e.model, e.prompt_tokens, e.cost_usd) for e in entries] == [("whisper-1", None, None)] * 4


def test_the_async_client_streams_transcriptions_speech_and_edits(proxy, openai_upstream):
    async def run():
        client = openai.AsyncOpenAI(base_url=proxy["base_url"], api_key="sk-async", max_retries=0)
        results = []
        for _ in range(2):
            stream = await client.audio.transcriptions.create(model="gpt-4o-transcribe", file=AUDIO, stream=True)
            events = [event.type async for event in stream]
            speech = await client.audio.speech.with_raw_response.create(model="tts-1", voice="alloy", input="hi")
            edit = await client.images.with_raw_response.edit(model="gpt-image-1", image=IMAGE, prompt="add a hat")
            results.append((events, speech.content, speech.headers["x-rubberduck-cache"], edit.headers))
        await client.close()
        return results

    (events, audio, speech_cache, edit), (events2, audio2, speech_cache2, edit2) = run_async(run())
    assert events == events2 and events[-1] == "transcript.text.done"
    assert audio == audio2 == fake.SPEECH
    assert (speech_cache, speech_cache2) == ("miss", "hit")
    assert (edit["x-rubberduck-cache"], edit2["x-rubberduck-cache"]) == ("miss", "hit")
    assert [r.path for r in openai_upstream.requests] == [
        "/v1/audio/transcriptions",
        "/v1/audio/speech",
        "/v1/images/edits",
    ]


CALLS = {
    "moderations": lambda c: c.moderations.create(input="x"),
    "images.generate": lambda c: c.images.generate(model="gpt-image-1", prompt="a duck"),
    "images.generate stream": lambda c: list(c.images.generate(model="gpt-image-1", prompt="a duck", stream=True)),
    "images.edit": lambda c: c.images.edit(model="gpt-image-1", image=IMAGE, prompt="add a hat"),
    "images.create_variation": lambda c: c.images.create_variation(image=IMAGE),
    "audio.speech": lambda c: c.audio.speech.create(model="tts-1", voice="alloy", input="hi"),
    "audio.transcriptions": lambda c: c.audio.transcriptions.create(model="gpt-4o-transcribe", file=AUDIO),
    "audio.transcriptions stream": lambda c: list(
        c.audio.transcriptions.create(model="gpt-4o-transcribe", file=AUDIO, stream=True)
    ),
    "audio.translations": lambda c: c.audio.translations.create(model="whisper-1", file=AUDIO),
}
STATUSES = [
    (400, openai.BadRequestError),
    (401, openai.AuthenticationError),
    (403, openai.PermissionDeniedError),
    (404, openai.NotFoundError),
    (429, openai.RateLimitError),
    (500, openai.InternalServerError),
    (503, openai.InternalServerError),
    (429, openai.RateLimitError),
    (401, openai.AuthenticationError),
]


def test_an_injected_error_raises_the_sdks_own_exception_on_every_endpoint(api, runner, proxy, openai_upstream):
    client = client_for(proxy)
    for (name, call), (status, error_class) in zip(CALLS.items(), STATUSES, strict=True):
        set_failures(api, runner, proxy, {"errors": [{"status": status, "rate": 1.0}]})
        with pytest.raises(error_class) as caught:
            call(client)
        error = caught.value
        assert (type(error), error.status_code) == (error_class, status), name
        assert error.response.headers["x-rubberduck-failure"] == "error", name
        assert error.response.headers["x-request-id"] == error.request_id, name
        if status == 429:
            assert error.code == "rate_limit_exceeded" and error.response.headers["retry-after"] == "1", name
    assert openai_upstream.requests == []


def test_an_upstream_error_on_a_form_passes_through_and_is_not_cached(proxy, openai_upstream, runner):
    message = "Audio file might be corrupted or unsupported"
    body = b'{"error": {"message": "%s", "type": "invalid_request_error", "param": "file", "code": "invalid_value"}}'
    openai_upstream.queue(Reply(400, fake.JSON, body % message.encode()))
    client = client_for(proxy)
    with pytest.raises(openai.BadRequestError) as caught:
        client.audio.transcriptions.create(model="gpt-4o-transcribe", file=AUDIO)
    assert (caught.value.code, caught.value.param) == ("invalid_value", "file")
    ok = client.audio.transcriptions.with_raw_response.create(model="gpt-4o-transcribe", file=AUDIO)
    assert ok.headers["x-rubberduck-cache"] == "miss"
    assert [e.status_code for e in logs(runner, proxy, 2)] == [400, 200]


def test_a_malformed_form_gets_openais_400_and_never_reaches_the_upstream(proxy, openai_upstream, runner):
    response = httpx.post(
        proxy["base_url"] + "/audio/transcriptions",
        content=b"--x\r\nContent-Disposition: form-data; name=model\r\n\r\nwhisper-1",  # no closing boundary
        headers={"content-type": "multipart/form-data; boundary=x", "authorization": "Bearer sk-media"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "multipart" in response.json()["error"]["message"]
    assert openai_upstream.requests == []
    assert [e.status_code for e in logs(runner, proxy, 1)] == [400]


# Azure OpenAI: the same operations under /openai/deployments/{deployment}/...


@pytest.fixture
def azure_upstream():
    server = FakeUpstream(fake_azure.respond).start()
    yield server
    server.stop()


@pytest.fixture
def azure_proxy(make_proxy, azure_upstream):
    return make_proxy("azure_openai", upstream_url=azure_upstream.url)


def azure_client(proxy):
    return openai.AzureOpenAI(
        azure_endpoint=proxy["base_url"], api_version="2025-04-01-preview", api_key="azure-key", max_retries=0
    )


def test_azure_deployments_serve_and_cache_audio_and_images(azure_proxy, azure_upstream, runner):
    client = azure_client(azure_proxy)
    transcribed = [client.audio.transcriptions.with_raw_response.create(model="my-whisper", file=AUDIO) for _ in "ab"]
    spoken = [client.audio.speech.with_raw_response.create(model="my-tts", voice="alloy", input="hi") for _ in "ab"]
    stream = list(client.audio.transcriptions.create(model="my-whisper", file=AUDIO, stream=True))
    replayed = client.audio.transcriptions.with_raw_response.create(model="my-whisper", file=AUDIO, stream=True)
    edited = [client.images.with_raw_response.edit(model="my-image", image=IMAGE, prompt="add a hat") for _ in "ab"]
    generated = client.images.generate(model="my-image", prompt="a duck")

    assert cache_states(*transcribed, *spoken, replayed, *edited) == [
        "miss",
        "hit",
        "miss",
        "hit",
        "hit",
        "miss",
        "hit",
    ]
    assert spoken[0].content == spoken[1].content == fake.SPEECH
    assert [e.type for e in replayed.parse()] == [e.type for e in stream]
    assert generated.usage.input_tokens == 50
    query = "?api-version=2025-04-01-preview"
    assert [r.path for r in azure_upstream.requests] == [
        "/openai/deployments/my-whisper/audio/transcriptions" + query,
        "/openai/deployments/my-tts/audio/speech" + query,
        "/openai/deployments/my-whisper/audio/transcriptions" + query,
        "/openai/deployments/my-image/images/edits" + query,
        "/openai/deployments/my-image/images/generations" + query,
    ]
    assert {r.headers["api-key"] for r in azure_upstream.requests} == {"azure-key"}
    entries = logs(runner, azure_proxy, 8)
    assert [(e.model, e.prompt_tokens) for e in entries[:2]] == [("my-whisper", 14)] * 2


def test_an_azure_429_on_a_transcription_names_azures_operation(api, runner, azure_proxy, azure_upstream):
    set_failures(api, runner, azure_proxy, {"errors": [{"status": 429, "rate": 1.0}]})
    with pytest.raises(openai.RateLimitError) as caught:
        azure_client(azure_proxy).audio.transcriptions.create(model="my-whisper", file=AUDIO)
    assert "Requests to the Audio_Transcriptions Operation" in caught.value.body["message"]
    assert azure_upstream.requests == []

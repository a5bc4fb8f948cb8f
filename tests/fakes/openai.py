"""A fake api.openai.com: chat completions (plain and streamed), responses, embeddings, models, completions,
moderations, images (generations, edits, variations), audio (speech, transcriptions, translations); and, with an
`Account`, what a proxy passes through: files, batches, fine-tuning jobs and vector stores.
Answers never echo the prompt, so tests can check that no prompt reaches the database."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import itertools
import json
import struct
from urllib.parse import urlsplit

from tests.fakes.server import Received, Reply, Routes, chunked

JSON = [
    ("content-type", "application/json"),
    ("x-request-id", "req_upstream0000000000000000000001"),
    ("openai-processing-ms", "12"),
    ("cache-control", "no-cache, must-revalidate"),
]
SSE = [("content-type", "text/event-stream; charset=utf-8"), ("x-request-id", "req_upstream0000000000000000000002")]
USAGE = {
    "prompt_tokens": 11,
    "completion_tokens": 7,
    "total_tokens": 18,
    "prompt_tokens_details": {"cached_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0},
}
WORDS = ["Hello", " from", " the", " fake", " upstream", "!"]


def respond(req: Received) -> Reply:
    path = req.path.split("?")[0]
    if req.headers.get("content-type", "").startswith("multipart/form-data"):
        return respond_to_form(path, read_form(req))
    body = json.loads(req.body) if req.body else {}
    if path.endswith("/moderations"):
        return moderations(body)
    if path.endswith("/images/generations"):
        return image_stream("image_generation", body) if body.get("stream") else images(body)
    if path.endswith("/audio/speech"):
        return speech_events() if body.get("stream_format") == "sse" else speech()
    if path.endswith("/chat/completions"):
        return chat_stream(body) if body.get("stream") else chat(body)
    if path.endswith("/responses"):
        return responses_stream(body) if body.get("stream") else responses(body)
    if path.endswith("/embeddings"):
        return embeddings(body)
    if path.endswith("/completions"):
        return completions(body)
    if path.endswith("/models"):
        return Reply(
            200,
            JSON,
            json.dumps(
                {
                    "object": "list",
                    "data": [{"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"}],
                }
            ).encode(),
        )
    return Reply(
        404,
        JSON,
        json.dumps(
            {"error": {"message": "Unknown URL", "type": "invalid_request_error", "param": None, "code": "unknown_url"}}
        ).encode(),
    )


def chat(body: dict) -> Reply:
    answer = {
        "id": "chatcmpl-fake1",
        "object": "chat.completion",
        "created": 1764000000,
        "model": body.get("model"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(WORDS), "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": USAGE,
        "system_fingerprint": "fp_fake",
    }
    return Reply(200, JSON, json.dumps(answer).encode())


def chat_stream(body: dict, delay: float = 0.0) -> Reply:
    base = {
        "id": "chatcmpl-fake2",
        "object": "chat.completion.chunk",
        "created": 1764000000,
        "model": body.get("model"),
    }
    include_usage = (body.get("stream_options") or {}).get("include_usage")
    chunks = []
    for i, word in enumerate(WORDS):
        delta = {"role": "assistant", "content": word} if i == 0 else {"content": word}
        chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        if include_usage:
            chunk["usage"] = None
        chunks.append(chunk)
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if include_usage:
        chunks.append({**base, "choices": [], "usage": USAGE})
    frames = [f"data: {json.dumps(c)}\n\n".encode() for c in chunks] + [b"data: [DONE]\n\n"]
    return Reply(200, SSE, chunks=frames, chunk_delay=delay)


def responses(body: dict) -> Reply:
    return Reply(200, JSON, json.dumps(response_object(body, "completed")).encode())


def response_object(body: dict, status: str) -> dict:
    done = status == "completed"
    return {
        "id": "resp_fake1",
        "object": "response",
        "created_at": 1764000000,
        "status": status,
        "model": body.get("model"),
        "output": [
            {
                "id": "msg_fake1",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "".join(WORDS), "annotations": []}],
            }
        ]
        if done
        else [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 9,
            "output_tokens": 6,
            "total_tokens": 15,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        }
        if done
        else None,
    }


def responses_stream(body: dict) -> Reply:
    events = [
        ("response.created", {"response": response_object(body, "in_progress")}),
        ("response.in_progress", {"response": response_object(body, "in_progress")}),
    ]
    for word in WORDS:
        events.append(
            (
                "response.output_text.delta",
                {"item_id": "msg_fake1", "output_index": 0, "content_index": 0, "delta": word},
            )
        )
    events.append(("response.completed", {"response": response_object(body, "completed")}))
    frames = [
        f"event: {name}\ndata: {json.dumps({'type': name, 'sequence_number': i, **data})}\n\n".encode()
        for i, (name, data) in enumerate(events)
    ]
    return Reply(200, SSE, chunks=frames)


def embeddings(body: dict) -> Reply:
    inputs = body.get("input")
    inputs = inputs if isinstance(inputs, list) else [inputs]
    vector = [0.25, -0.5, 0.125]
    if body.get("encoding_format") == "base64":
        vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    data = [{"object": "embedding", "index": i, "embedding": vector} for i in range(len(inputs))]
    answer = {
        "object": "list",
        "data": data,
        "model": body.get("model"),
        "usage": {"prompt_tokens": 5, "total_tokens": 5},
    }
    return Reply(200, JSON, json.dumps(answer).encode())


def completions(body: dict) -> Reply:
    answer = {
        "id": "cmpl-fake1",
        "object": "text_completion",
        "created": 1764000000,
        "model": body.get("model"),
        "choices": [{"text": "".join(WORDS), "index": 0, "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10},
    }
    return Reply(200, JSON, json.dumps(answer).encode())


# Media answers: an mp3-ish file (ID3 tag, then frames whose bytes include CR, LF and blank lines), a PNG.
SPEECH = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"".join(b"\xff\xf3\x44\xc4" + bytes(range(256)) for _ in range(40))
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
TEXT = "".join(WORDS)
TRANSCRIPTION_USAGE = {
    "type": "tokens",
    "input_tokens": 14,
    "input_token_details": {"text_tokens": 0, "audio_tokens": 14},
    "output_tokens": 45,
    "total_tokens": 59,
}
IMAGE_USAGE = {
    "input_tokens": 50,
    "input_tokens_details": {"image_tokens": 40, "text_tokens": 10},
    "output_tokens": 272,
    "total_tokens": 322,
    "output_tokens_details": {"image_tokens": 272, "text_tokens": 0},
}
SPEECH_USAGE = {"input_tokens": 14, "output_tokens": 101, "total_tokens": 115}


def read_form(req: Received) -> dict[str, tuple[str | None, bytes]]:
    """A multipart/form-data body as {name: (filename, content)}, read by the stdlib email parser (not the
    proxy's own parser, so that a mistake in one is not hidden by the same mistake in the other)."""
    head = f"Content-Type: {req.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + req.body)
    return {
        part.get_param("name", header="content-disposition"): (part.get_filename(), part.get_payload(decode=True))
        for part in message.iter_parts()
    }


def respond_to_form(path: str, form: dict[str, tuple[str | None, bytes]]) -> Reply:
    fields = {name: content.decode() for name, (filename, content) in form.items() if filename is None}
    if path.endswith("/audio/transcriptions"):
        if fields.get("stream") == "true":
            return transcription_stream()
        return transcription(fields)
    if path.endswith("/audio/translations"):
        return Reply(200, JSON, json.dumps({"text": TEXT}).encode())
    if path.endswith("/images/edits"):
        return image_stream("image_edit", fields) if fields.get("stream") == "true" else images(fields)
    if path.endswith("/images/variations"):
        return images({"model": "dall-e-2"})
    return Reply(404, JSON, json.dumps({"error": {"message": "Unknown URL", "type": "invalid_request_error"}}).encode())


def moderations(body: dict) -> Reply:
    categories = ["harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent"]
    categories += ["self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence"]
    categories += ["violence/graphic"]
    result = {
        "flagged": False,
        "categories": dict.fromkeys(categories, False),
        "category_scores": dict.fromkeys(categories, 0.0001),
        "category_applied_input_types": {name: ["text"] for name in categories},
    }
    answer = {"id": "modr-fake1", "model": "omni-moderation-2024-09-26", "results": [result]}
    return Reply(200, JSON, json.dumps(answer).encode())


def images(body: dict) -> Reply:
    """GPT image models answer base64 images with token usage; DALL-E answers URLs and no usage."""
    if str(body.get("model") or "dall-e-2").startswith("dall-e"):
        answer = {"created": 1764000000, "data": [{"url": "https://images.example/fake.png"}]}
    else:
        answer = {
            "created": 1764000000,
            "data": [{"b64_json": base64.b64encode(PNG).decode()}],
            "background": "opaque",
            "output_format": "png",
            "quality": "low",
            "size": "1024x1024",
            "usage": IMAGE_USAGE,
        }
    return Reply(200, JSON, json.dumps(answer).encode())


def image_stream(kind: str, body: dict) -> Reply:
    """`event: {kind}.partial_image` then `{kind}.completed` with the usage (kind: image_generation, image_edit)."""
    common = {
        "b64_json": base64.b64encode(PNG).decode(),
        "background": "opaque",
        "created_at": 1764000000,
        "output_format": "png",
        "quality": "low",
        "size": "1024x1024",
    }
    events = [
        {"type": f"{kind}.partial_image", "partial_image_index": 0, **common},
        {"type": f"{kind}.completed", **common, "usage": IMAGE_USAGE},
    ]
    return Reply(200, SSE, chunks=[f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events])


def speech() -> Reply:
    """Audio bytes as api.openai.com sends them: chunked, as they are made."""
    headers = [("content-type", "audio/mpeg"), ("x-request-id", "req_upstream0000000000000000000003")]
    return Reply(200, headers, chunks=[SPEECH[i : i + 4096] for i in range(0, len(SPEECH), 4096)])


def speech_events() -> Reply:
    """stream_format="sse": base64 audio deltas, then the usage."""
    deltas = [
        {"type": "speech.audio.delta", "audio": base64.b64encode(SPEECH[i : i + 4096]).decode()} for i in (0, 4096)
    ]
    events = [*deltas, {"type": "speech.audio.done", "usage": SPEECH_USAGE}]
    return Reply(200, SSE, chunks=[f"data: {json.dumps(e)}\n\n".encode() for e in events])


def transcription(fields: dict) -> Reply:
    """gpt-4o-transcribe reports tokens; whisper-1 seconds; response_format=text is plain text."""
    if fields.get("response_format") == "text":
        return Reply(200, [("content-type", "text/plain; charset=utf-8"), *JSON[1:]], (TEXT + "\n").encode())
    usage = {"type": "duration", "seconds": 3} if fields.get("model") == "whisper-1" else TRANSCRIPTION_USAGE
    return Reply(200, JSON, json.dumps({"text": TEXT, "usage": usage}).encode())


def transcription_stream() -> Reply:
    events = [{"type": "transcript.text.delta", "delta": word, "logprobs": []} for word in WORDS]
    events.append({"type": "transcript.text.done", "text": TEXT, "logprobs": [], "usage": TRANSCRIPTION_USAGE})
    return Reply(200, SSE, chunks=[f"data: {json.dumps(e)}\n\n".encode() for e in events])


class Account:
    """An OpenAI account's files, batches and vector stores, kept between calls (paths after `prefix`: "/v1" on
    api.openai.com, "/openai" on Azure); any other path is `respond`'s."""

    def __init__(self, prefix: str = "/v1", headers: list[tuple[str, str]] = JSON):
        self.prefix, self.headers = prefix, headers
        self.files: dict[str, dict] = {}
        self.contents: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}
        self.vector_stores: dict[str, dict] = {}
        self.ids = itertools.count(1)
        self.routes = Routes(
            ("POST", r"/files", self.upload),
            ("GET", r"/files", lambda req: self.page(self.files)),
            ("GET", r"/files/(?P<id>[^/]+)", lambda req, id: self.found(self.files, id)),
            ("GET", r"/files/(?P<id>[^/]+)/content", self.content),
            ("DELETE", r"/files/(?P<id>[^/]+)", lambda req, id: self.delete(self.files, id, "file")),
            ("POST", r"/batches", self.create_batch),
            ("GET", r"/batches", lambda req: self.page(self.batches)),
            ("GET", r"/batches/(?P<id>[^/]+)", lambda req, id: self.found(self.batches, id)),
            ("POST", r"/batches/(?P<id>[^/]+)/cancel", self.cancel_batch),
            ("GET", r"/fine_tuning/jobs", lambda req: self.page({"ftjob-1": FINE_TUNING_JOB})),
            ("POST", r"/vector_stores", self.create_vector_store),
            ("GET", r"/vector_stores", lambda req: self.page(self.vector_stores)),
            ("GET", r"/vector_stores/(?P<id>[^/]+)", lambda req, id: self.found(self.vector_stores, id)),
            (
                "DELETE",
                r"/vector_stores/(?P<id>[^/]+)",
                lambda req, id: self.delete(self.vector_stores, id, "vector_store.deleted"),
            ),
        )

    def respond(self, req: Received) -> Reply:
        path = urlsplit(req.path).path
        reply = self.routes.reply(req, path.removeprefix(self.prefix)) if path.startswith(self.prefix) else None
        return reply if reply is not None else respond(req)

    def json(self, payload: dict, status: int = 200) -> Reply:
        return Reply(status, self.headers, json.dumps(payload).encode())

    def new_id(self, kind: str) -> str:
        return f"{kind}-fake{next(self.ids):04d}"

    def page(self, items: dict[str, dict]) -> Reply:
        data = list(items.values())
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return self.json({"object": "list", "data": data, "first_id": first, "last_id": last, "has_more": False})

    def found(self, items: dict[str, dict], id: str) -> Reply:
        if id not in items:
            message = f"No such object: '{id}'"
            return self.json(
                {"error": {"message": message, "type": "invalid_request_error", "param": "id", "code": None}}, 404
            )
        return self.json(items[id])

    def delete(self, items: dict[str, dict], id: str, kind: str) -> Reply:
        reply = self.found(items, id)
        if reply.status == 200:
            del items[id]
            self.contents.pop(id, None)
            reply = self.json({"id": id, "object": kind, "deleted": True})
        return reply

    def upload(self, req: Received) -> Reply:
        form = read_form(req)
        filename, content = form["file"]
        file_id = self.new_id("file")
        self.contents[file_id] = content
        self.files[file_id] = {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": 1764000000,
            "filename": filename,
            "purpose": form["purpose"][1].decode(),
            "status": "processed",
        }
        return self.json(self.files[file_id])

    def content(self, req: Received, id: str) -> Reply:
        if id not in self.contents:
            return self.found(self.files, id)
        headers = [("content-type", "application/octet-stream"), *self.headers[1:]]
        return Reply(200, headers, chunks=chunked(self.contents[id]))

    def create_batch(self, req: Received) -> Reply:
        body = json.loads(req.body)
        batch_id = self.new_id("batch")
        self.batches[batch_id] = {
            "id": batch_id,
            "object": "batch",
            "endpoint": body["endpoint"],
            "errors": None,
            "input_file_id": body["input_file_id"],
            "completion_window": body["completion_window"],
            "status": "validating",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": 1764000000,
            "request_counts": {"total": 0, "completed": 0, "failed": 0},
            "metadata": body.get("metadata"),
        }
        return self.json(self.batches[batch_id])

    def cancel_batch(self, req: Received, id: str) -> Reply:
        if id in self.batches:
            self.batches[id]["status"] = "cancelling"
        return self.found(self.batches, id)

    def create_vector_store(self, req: Received) -> Reply:
        body = json.loads(req.body)
        store_id = self.new_id("vs")
        self.vector_stores[store_id] = {
            "id": store_id,
            "object": "vector_store",
            "created_at": 1764000000,
            "name": body.get("name"),
            "usage_bytes": 0,
            "file_counts": {"in_progress": 0, "completed": 0, "failed": 0, "cancelled": 0, "total": 0},
            "status": "completed",
            "last_active_at": 1764000000,
            "metadata": body.get("metadata") or {},
        }
        return self.json(self.vector_stores[store_id])


FINE_TUNING_JOB = {
    "id": "ftjob-1",
    "object": "fine_tuning.job",
    "created_at": 1764000000,
    "finished_at": None,
    "model": "gpt-4o-mini-2024-07-18",
    "fine_tuned_model": None,
    "organization_id": "org-fake",
    "status": "queued",
    "hyperparameters": {"n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto"},
    "training_file": "file-fake0001",
    "validation_file": None,
    "result_files": [],
    "trained_tokens": None,
    "error": None,
    "seed": 42,
}

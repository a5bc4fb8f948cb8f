"""A fake bedrock-runtime: Converse, ConverseStream, InvokeModel (Anthropic-native bodies),
InvokeModelWithResponseStream, CountTokens and ApplyGuardrail, in Bedrock's wire format, checking SigV4 like AWS does.

Streams are `application/vnd.amazon.eventstream` frames. No maintained Python library encodes them (botocore and
awscrt only decode or speak RPC), so `encode_message` below is a minimal encoder for this test fake only
(CRC32 from zlib); everything that reads frames, in the proxy and in the tests, is botocore's own decoder.
Answers never echo the prompt, so tests can check that no prompt reaches the database.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import uuid
import zlib
from urllib.parse import unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.fakes.server import Received, Reply

WORDS = ["Hello", " from", " the", " fake", " Bedrock", "!"]
CONVERSE_USAGE = {"inputTokens": 12, "outputTokens": 6, "totalTokens": 18}
INVOKE_TOKENS = (14, 9)
# A prompt containing this makes a stream end with an exception event (after some good events).
FAIL_MIDSTREAM = "please fail midstream"
ERROR_NS = ":http://internal.amazon.com/coral/com.amazon.bedrock/"


def encode_message(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    """One event-stream message: prelude (total length, headers length, CRC), string headers, payload, CRC."""
    encoded = b""
    for name, value in headers:
        raw = value.encode()
        encoded += bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(raw)) + raw
    prelude = struct.pack(">II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def event(event_type: str, payload: dict) -> bytes:
    headers = [(":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")]
    return encode_message(headers, json.dumps({**payload, "p": "abcdefghij"[: len(event_type) % 10]}).encode())


def exception(exception_type: str, message: str) -> bytes:
    headers = [
        (":exception-type", exception_type),
        (":content-type", "application/json"),
        (":message-type", "exception"),
    ]
    return encode_message(headers, json.dumps({"message": message}).encode())


def rechunk(data: bytes, size: int = 37) -> list[bytes]:
    """Cuts a stream across message boundaries, as TCP may deliver it."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def error_reply(status: int, code: str, message: str) -> Reply:
    headers = [
        ("content-type", "application/json"),
        ("x-amzn-RequestId", str(uuid.uuid4())),
        ("x-amzn-ErrorType", code + ERROR_NS),
    ]
    return Reply(status, headers, json.dumps({"message": message}).encode())


class FakeBedrock:
    """`respond` for FakeUpstream. With `credentials` set, a SigV4 request must be signed with them, for the
    Host it arrives with and for `region`, or it gets AWS's 403 InvalidSignatureException."""

    def __init__(self, credentials: Credentials | None = None, region: str = "us-east-1"):
        self.credentials = credentials
        self.region = region
        self.verified: list[str] = []  # "sigv4" or "bearer", per accepted request

    def respond(self, req: Received) -> Reply:
        authorization = req.headers.get("authorization", "")
        if authorization.startswith("AWS4-HMAC-SHA256") and self.credentials is not None:
            problem = sigv4_problem(req, self.credentials, self.region)
            if problem:
                return error_reply(403, "InvalidSignatureException", problem)
            self.verified.append("sigv4")
        elif authorization.startswith("Bearer "):
            self.verified.append("bearer")
        path = unquote(req.path.split("?")[0])
        guardrail = re.fullmatch(r"/guardrail/(.+)/version/([^/]+)/apply", path)
        if guardrail is not None:
            return apply_guardrail(json.loads(req.body))
        m = re.fullmatch(r"/model/(.+)/([a-z-]+)", path)
        if m is None or req.method != "POST":
            return error_reply(404, "UnknownOperationException", "Unknown operation")
        model, operation = m.groups()
        body = json.loads(req.body) if req.body else {}
        failing = FAIL_MIDSTREAM in req.body.decode("utf-8", "replace")
        if operation == "converse":
            return converse(model)
        if operation == "converse-stream":
            return converse_stream(failing)
        if operation == "invoke":
            return invoke(model)
        if operation == "invoke-with-response-stream":
            return invoke_stream(model, failing)
        if operation == "count-tokens":
            return json_reply({"inputTokens": 42 if "converse" in body.get("input", {}) else 17})
        return error_reply(404, "UnknownOperationException", "Unknown operation")


def sigv4_problem(req: Received, credentials: Credentials, region: str) -> str | None:
    """Recomputes the request's SigV4 signature with botocore, for the Host and path it arrived with."""
    authorization = req.headers["authorization"]
    fields = dict(part.strip().split("=", 1) for part in authorization[len("AWS4-HMAC-SHA256 ") :].split(","))
    access_key, date, scope_region, service, _ = fields["Credential"].split("/")
    if access_key != credentials.access_key or scope_region != region or service != "bedrock":
        return f"Credential should be scoped to a valid region and key, not {fields['Credential']}."
    signed = fields["SignedHeaders"].split(";")
    headers = {name: req.headers[name] for name in signed if name in req.headers}
    request = AWSRequest(method=req.method, url=f"http://{req.headers['host']}{req.path}", headers=headers)
    request.data = req.body
    request.context["timestamp"] = req.headers["x-amz-date"]
    auth = SigV4Auth(credentials, "bedrock", region)
    canonical = auth.canonical_request(request)
    expected = auth.signature(auth.string_to_sign(request, canonical), request)
    if set(signed) != set(auth.headers_to_sign(request)) or expected != fields["Signature"]:
        return (
            "The request signature we calculated does not match the signature you provided. Check your AWS "
            "Secret Access Key and signing method. Consult the service documentation for details."
        )
    return None


def json_reply(payload: dict, extra: list[tuple[str, str]] | None = None) -> Reply:
    headers = [("content-type", "application/json"), ("x-amzn-RequestId", str(uuid.uuid4())), *(extra or [])]
    return Reply(200, headers, json.dumps(payload).encode())


def converse(model: str) -> Reply:
    return json_reply(
        {
            "output": {"message": {"role": "assistant", "content": [{"text": "".join(WORDS)}]}},
            "stopReason": "end_turn",
            "usage": CONVERSE_USAGE,
            "metrics": {"latencyMs": 321},
        }
    )


def stream_reply(frames: list[bytes], extra: list[tuple[str, str]] | None = None) -> Reply:
    headers = [
        ("content-type", "application/vnd.amazon.eventstream"),
        ("x-amzn-RequestId", str(uuid.uuid4())),
        *(extra or []),
    ]
    return Reply(200, headers, chunks=rechunk(b"".join(frames)))


def converse_stream_frames(failing: bool = False) -> list[bytes]:
    frames = [event("messageStart", {"role": "assistant"})]
    for word in WORDS:
        frames.append(event("contentBlockDelta", {"delta": {"text": word}, "contentBlockIndex": 0}))
        if failing and len(frames) == 3:
            return [*frames, exception("throttlingException", "Too many tokens, please wait before trying again.")]
    frames += [
        event("contentBlockStop", {"contentBlockIndex": 0}),
        event("messageStop", {"stopReason": "end_turn"}),
        event("metadata", {"usage": CONVERSE_USAGE, "metrics": {"latencyMs": 321}}),
    ]
    return frames


def converse_stream(failing: bool) -> Reply:
    return stream_reply(converse_stream_frames(failing))


def anthropic_message(model: str) -> dict:
    return {
        "id": "msg_bdrk_fake1",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "".join(WORDS)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": INVOKE_TOKENS[0], "output_tokens": INVOKE_TOKENS[1]},
    }


def invoke(model: str) -> Reply:
    tokens = [
        ("X-Amzn-Bedrock-Input-Token-Count", str(INVOKE_TOKENS[0])),
        ("X-Amzn-Bedrock-Output-Token-Count", str(INVOKE_TOKENS[1])),
        ("X-Amzn-Bedrock-Invocation-Latency", "400"),
    ]
    return json_reply(anthropic_message(model), tokens)


def chunk(payload: dict) -> bytes:
    return event("chunk", {"bytes": base64.b64encode(json.dumps(payload).encode()).decode()})


def invoke_stream_frames(model: str, failing: bool = False) -> list[bytes]:
    start = {**anthropic_message(model), "content": [], "usage": {"input_tokens": INVOKE_TOKENS[0], "output_tokens": 1}}
    frames = [
        chunk({"type": "message_start", "message": start}),
        chunk({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ]
    for word in WORDS:
        frames.append(chunk({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word}}))
    if failing:
        return [*frames, exception("modelStreamErrorException", "The model stream broke off.")]
    metrics = {"inputTokenCount": INVOKE_TOKENS[0], "outputTokenCount": INVOKE_TOKENS[1], "invocationLatency": 400}
    frames += [
        chunk({"type": "content_block_stop", "index": 0}),
        chunk({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}}),
        chunk({"type": "message_stop", "amazon-bedrock-invocationMetrics": {**metrics, "firstByteLatency": 100}}),
    ]
    return frames


def invoke_stream(model: str, failing: bool) -> Reply:
    return stream_reply(invoke_stream_frames(model, failing), [("X-Amzn-Bedrock-Content-Type", "application/json")])


# Content containing this makes the guardrail intervene (a denied topic).
DENIED_TOPIC = "stock tips"


def apply_guardrail(body: dict) -> Reply:
    """ApplyGuardrail: the action, the (masked) outputs, the assessments and the policy units it used."""
    text = " ".join(block.get("text", {}).get("text", "") for block in body.get("content", []))
    usage = {
        "topicPolicyUnits": 1,
        "contentPolicyUnits": 1,
        "wordPolicyUnits": 1,
        "sensitiveInformationPolicyUnits": 1,
        "sensitiveInformationPolicyFreeUnits": 0,
        "contextualGroundingPolicyUnits": 0,
    }
    coverage = {"textCharacters": {"guarded": len(text), "total": len(text)}}
    if DENIED_TOPIC not in text:
        return json_reply(
            {"usage": usage, "action": "NONE", "outputs": [], "assessments": [{}], "guardrailCoverage": coverage}
        )
    topic = {"name": "Investment advice", "type": "DENY", "action": "BLOCKED", "detected": True}
    return json_reply(
        {
            "usage": usage,
            "action": "GUARDRAIL_INTERVENED",
            "actionReason": "Guardrail blocked.",
            "outputs": [{"text": "Sorry, I cannot help with that."}],
            "assessments": [{"topicPolicy": {"topics": [topic]}}],
            "guardrailCoverage": coverage,
        }
    )

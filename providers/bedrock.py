"""AWS Bedrock Runtime, as boto3's `bedrock-runtime` client speaks it (rest-json, SigV4 or API keys).

Clients use `boto3.client("bedrock-runtime", endpoint_url="http://127.0.0.1:PORT")`. The model id is one
percent-encoded path segment (`/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse`); it is decoded for the
cache key and for pricing. The two stream operations answer `application/vnd.amazon.eventstream`: binary frames,
split here with botocore's own decoder. How credentials reach the upstream: see providers/bedrock_auth.py.
"""

from __future__ import annotations

import base64
import binascii
import copy
from urllib.parse import urlsplit

import orjson
from botocore.eventstream import EventStreamBuffer, EventStreamMessage, ParserError
from django.conf import settings

from providers import ids
from providers.base import (
    NOT_FORWARDED_UPSTREAM,
    Answer,
    Endpoint,
    Fault,
    Provider,
    Refusal,
    Request,
    Route,
    StreamInspector,
    UpstreamRequest,
    Usage,
)
from providers.bedrock_auth import (
    BEDROCK_HOST,
    SIGNED_HOST_HEADER,
    SIGV4_HEADERS,
    ServerCredentials,
    host_region,
    is_sigv4,
    may_sign_for,
    resign,
    scope_region,
    signed_headers,
)

BEDROCK_NS = "http://internal.amazon.com/coral/com.amazon.bedrock/"
CORAL_NS = "http://internal.amazon.com/coral/com.amazon.coral.service/"
# Status -> (x-amzn-ErrorType code, default message), as Bedrock Runtime sends them. Codes botocore models for
# this service raise their own class (client.exceptions.ThrottlingException); the others a plain ClientError.
BEDROCK_ERRORS: dict[int, tuple[str, str]] = {
    400: ("ValidationException", "The provided request is not valid."),
    401: ("UnrecognizedClientException", "The security token included in the request is invalid."),
    403: ("AccessDeniedException", "You don't have access to the model with the specified model ID."),
    404: ("ResourceNotFoundException", "The requested resource could not be found."),
    408: ("ModelTimeoutException", "Model has timed out in processing the request. Try your request again."),
    409: ("ConflictException", "The request conflicts with the current state of the resource."),
    # Bedrock refuses an oversized input as a validation error; the status stays what the rule asked for.
    413: ("ValidationException", "Input is too long for requested model."),
    424: ("ModelErrorException", "The model returned an error. Try your request again."),
    429: ("ThrottlingException", "Too many requests, please wait before trying again."),
    500: ("InternalServerException", "The system encountered an unexpected error during processing. Try again."),
    502: ("ServiceUnavailableException", "Bedrock is unable to process your request."),
    503: ("ServiceUnavailableException", "Bedrock is unable to process your request."),
    504: ("ServiceUnavailableException", "Bedrock timed out processing your request."),
}
FAULT_CODES = {
    Fault.NOT_FOUND: ("UnknownOperationException", CORAL_NS),
    Fault.METHOD_NOT_ALLOWED: ("UnknownOperationException", CORAL_NS),
    Fault.BAD_REQUEST: ("SerializationException", CORAL_NS),
    Fault.IP_BLOCKED: ("AccessDeniedException", BEDROCK_NS),
    Fault.FORBIDDEN: ("AccessDeniedException", BEDROCK_NS),
    Fault.RATE_LIMITED: ("ThrottlingException", BEDROCK_NS),
}
# Request headers that change what InvokeModel / Converse answer: part of the cache key.
KEY_HEADERS = (
    "content-type",
    "accept",
    "x-amzn-bedrock-accept",
    "x-amzn-bedrock-trace",
    "x-amzn-bedrock-guardrailidentifier",
    "x-amzn-bedrock-guardrailversion",
    "x-amzn-bedrock-performanceconfig-latency",
    "x-amzn-bedrock-service-tier",
)
NO_SIGNING_ADVICE = (
    "Rubberduck cannot forward this request: its SigV4 signature covers the proxy's address ({host}), not "
    "Bedrock's, and this Rubberduck server has no AWS credentials of its own to sign it again. Do one of: "
    "give the Rubberduck server AWS credentials (environment variables, ~/.aws or an instance role); or create "
    "the client without endpoint_url and call providers.bedrock_redirect.redirect_to_proxy(client, proxy_url), "
    "so it signs for the real Bedrock host; or use a Bedrock API key (AWS_BEARER_TOKEN_BEDROCK) with a proxy "
    "that has tls: true (verify=<the CA from /api/v1/tls/ca.pem>). Cached answers need none of this."
)
SIGNING_REFUSED = (
    "Rubberduck cannot forward this request: its SigV4 signature covers the proxy's address ({host}), not "
    "Bedrock's, and {why}. Do one of: create the client without endpoint_url and call "
    "providers.bedrock_redirect.redirect_to_proxy(client, proxy_url), so it signs for the real Bedrock host; or use "
    "a Bedrock API key (AWS_BEARER_TOKEN_BEDROCK) with a proxy that has tls: true (verify=<the CA from "
    "/api/v1/tls/ca.pem>). Cached answers need none of this."
)
NOT_YOURS = (
    "this Rubberduck server signs again with its own AWS credentials only for the proxies of the users its staff "
    "allows (the site setting server_aws_credentials)"
)
NOT_BEDROCK = (
    "this Rubberduck server signs with its own AWS credentials only for Bedrock Runtime's own hosts "
    "(bedrock-runtime.<region>.amazonaws.com), not for {target}"
)


def default_region() -> str:
    return getattr(settings, "RUBBERDUCK_BEDROCK_DEFAULT_REGION", None) or "us-east-1"


def pricing_model(model: str | None) -> str | None:
    """The model id genai-prices knows: an ARN (`...:inference-profile/us.anthropic...`) names it last."""
    if model and model.startswith("arn:") and "/" in model:
        return model.rsplit("/", 1)[1]
    return model


def bedrock_usage(model, input_tokens, output_tokens, cache_read, cache_write) -> Usage:
    """Bedrock counts cached input apart from `inputTokens`; genai-prices wants it inside input_tokens."""
    total_input = None
    if input_tokens is not None:
        total_input = input_tokens + (cache_read or 0) + (cache_write or 0)
    return Usage(model, total_input, output_tokens, cache_read, cache_write)


def converse_usage(data: dict, model: str | None) -> Usage | None:
    usage = data.get("usage")
    if not isinstance(usage, dict):
        return None
    return bedrock_usage(
        model,
        usage.get("inputTokens"),
        usage.get("outputTokens"),
        usage.get("cacheReadInputTokens"),
        usage.get("cacheWriteInputTokens"),
    )


def header_int(headers: dict[str, str], name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


class EventStreamInspector(StreamInspector):
    """Splits `application/vnd.amazon.eventstream` bytes into whole messages with botocore's decoder (it checks
    both CRCs); picks usage from a ConverseStream `metadata` event or the `amazon-bedrock-invocationMetrics` of an
    InvokeModelWithResponseStream chunk; an `exception` or `error` message marks the stream as failed."""

    def __init__(self, model: str | None = None):
        self.model = model
        self.usage: Usage | None = None
        self.error = False
        self._decoder = EventStreamBuffer()
        self._raw = bytearray()  # bytes of messages not yet complete
        self._broken = False

    def feed(self, chunk: bytes) -> list[bytes]:
        if self._broken:  # past a corrupt frame nothing can be split: pass the bytes on as they are
            return [chunk] if chunk else []
        self._decoder.add_data(chunk)
        self._raw += chunk
        events = []
        try:
            for message in self._decoder:
                length = message.prelude.total_length
                events.append(bytes(self._raw[:length]))
                del self._raw[:length]
                self.on_message(message)
        except ParserError:
            self.error = self._broken = True
            if self._raw:
                events.append(bytes(self._raw))
                self._raw.clear()
        return events

    def on_message(self, message: EventStreamMessage) -> None:
        kind = message.headers.get(":message-type")
        if kind in ("exception", "error"):
            self.error = True
            return
        event = message.headers.get(":event-type")
        if event == "metadata":
            data = loads(message.payload)
            if isinstance(data, dict):
                self.usage = converse_usage(data, self.model) or self.usage
        elif event == "chunk":
            data = loads(message.payload)
            if not isinstance(data, dict) or not isinstance(data.get("bytes"), str):
                return
            try:
                inner = loads(base64.b64decode(data["bytes"]))
            except (binascii.Error, ValueError):
                return
            metrics = inner.get("amazon-bedrock-invocationMetrics") if isinstance(inner, dict) else None
            if isinstance(metrics, dict):
                self.usage = bedrock_usage(
                    self.model,
                    metrics.get("inputTokenCount"),
                    metrics.get("outputTokenCount"),
                    metrics.get("cacheReadInputTokenCount"),
                    metrics.get("cacheWriteInputTokenCount"),
                )


def loads(payload: bytes):
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None


class BedrockProvider(Provider):
    id = "bedrock"
    name = "AWS Bedrock"
    default_upstream_url = "https://bedrock-runtime.{region}.amazonaws.com"
    pricing_provider_id = "aws"
    key_headers = KEY_HEADERS
    request_id_header = "x-amzn-requestid"
    api_roots = ("/model/", "/guardrail/", "/guardrail-checks/", "/async-invoke")
    endpoints = (
        Endpoint("POST", r"/model/(?P<model>.+)/converse", "converse"),
        Endpoint("POST", r"/model/(?P<model>.+)/converse-stream", "converse_stream", stream="always"),
        Endpoint("POST", r"/model/(?P<model>.+)/invoke", "invoke_model"),
        Endpoint("POST", r"/model/(?P<model>.+)/invoke-with-response-stream", "invoke_model_stream", stream="always"),
        Endpoint("POST", r"/model/(?P<model>.+)/count-tokens", "count_tokens"),
        # A guardrail may be named by its ARN, whose "/" arrives percent-encoded.
        Endpoint("POST", r"/guardrail/(?P<guardrail>.+)/version/(?P<version>[^/]+)/apply", "apply_guardrail"),
        Endpoint("POST", r"/guardrail-checks/invoke", "invoke_guardrail_checks"),
        Endpoint("POST", r"/async-invoke", "start_async_invoke", cacheable=False),
        Endpoint("GET", r"/async-invoke", "list_async_invokes", cacheable=False),
        Endpoint("GET", r"/async-invoke/(?P<arn>.+)", "get_async_invoke", cacheable=False),
    )

    def __init__(self):
        self.credentials = ServerCredentials()
        self.may_use_server_credentials = True

    def for_owner(self, *, server_credentials: bool) -> BedrockProvider:
        if server_credentials:
            return self
        restricted = copy.copy(self)
        restricted.may_use_server_credentials = False
        return restricted

    def upstream_base(self, upstream_url: str, request: Request, route: Route) -> str:
        if upstream_url:
            return upstream_url.rstrip("/")
        region = scope_region(request.headers.get("authorization", "")) or default_region()
        return f"https://bedrock-runtime.{region}.amazonaws.com"

    def signs_body(self, request: Request) -> bool:
        """Re-signing for the upstream hashes the body: only a request signed for the proxy is; one signed for
        Bedrock (the redirect helper) or carrying an API key goes as it came, its body streamed."""
        return SIGNED_HOST_HEADER not in request.headers and is_sigv4(request.headers.get("authorization", ""))

    def upstream_request(self, upstream_url: str, request: Request, route: Route) -> UpstreamRequest:
        authorization = request.headers.get("authorization", "")
        signed_host = request.headers.get(SIGNED_HOST_HEADER)
        if signed_host is not None:
            return self._as_signed(upstream_url, request, signed_host, authorization)
        if not is_sigv4(authorization):  # a Bedrock API key (bearer), or no credentials: forwarded as they are
            return super().upstream_request(upstream_url, request, route)
        url = self.upstream_base(upstream_url, request, route) + request.path
        if request.query:
            url += "?" + request.query
        host = request.headers.get("host", "?")
        if not self.may_use_server_credentials:
            raise Refusal(self.error(403, Fault.FORBIDDEN, message=SIGNING_REFUSED.format(host=host, why=NOT_YOURS)))
        if not may_sign_for(url, getattr(settings, "RUBBERDUCK_BEDROCK_SIGNING_HOSTS", ())):
            why = NOT_BEDROCK.format(target=urlsplit(url).netloc)
            raise Refusal(self.error(403, Fault.FORBIDDEN, message=SIGNING_REFUSED.format(host=host, why=why)))
        credentials = self.credentials.get()
        if credentials is None:
            raise Refusal(self.error(403, Fault.FORBIDDEN, message=NO_SIGNING_ADVICE.format(host=host)))
        # A Bedrock host's own region wins: AWS checks the signature against the region it serves.
        region = host_region(upstream_url) or scope_region(authorization) or default_region()
        headers = [
            (k, v) for k, v in request.headers.items() if k not in NOT_FORWARDED_UPSTREAM and k not in SIGV4_HEADERS
        ]
        headers = resign(credentials, region, request.method, url, headers, request.body)
        headers.append(("accept-encoding", "identity"))
        return UpstreamRequest(url, headers, request.body)

    def _as_signed(self, upstream_url: str, request: Request, host: str, authorization: str) -> UpstreamRequest:
        """The client signed for the real Bedrock host (the redirect helper): that Host goes back on, and the
        path, query, body and every other header go upstream exactly as they came."""
        if not BEDROCK_HOST.match(host.split(":")[0]):
            message = f"{SIGNED_HOST_HEADER} must name a Bedrock Runtime host, not {host!r}."
            raise Refusal(self.error(400, Fault.BAD_REQUEST, message=message))
        base = upstream_url.rstrip("/") if upstream_url else f"https://{host}"
        url = base + request.path + ("?" + request.query if request.query else "")
        signed = signed_headers(authorization)
        headers = [("host", host)]
        for name, value in request.headers.items():
            if name in (SIGNED_HOST_HEADER, "host") or (name in NOT_FORWARDED_UPSTREAM and name not in signed):
                continue
            headers.append((name, value))
        if "accept-encoding" not in signed:
            headers.append(("accept-encoding", "identity"))
        return UpstreamRequest(url, headers, request.body)

    def answer_usage(self, route: Route, body: bytes, headers: list[tuple[str, str]]) -> Usage | None:
        model = pricing_model(route.model) if route.model and route.model.startswith("arn:") else None
        if route.operation == "invoke_model":
            found = dict(headers)
            usage = bedrock_usage(
                model,
                header_int(found, "x-amzn-bedrock-input-token-count"),
                header_int(found, "x-amzn-bedrock-output-token-count"),
                header_int(found, "x-amzn-bedrock-cache-read-input-token-count"),
                header_int(found, "x-amzn-bedrock-cache-write-input-token-count"),
            )
            return usage if usage.input_tokens is not None or usage.output_tokens is not None else None
        if route.operation == "converse":
            data = loads(body)
            return converse_usage(data, model) if isinstance(data, dict) else None
        return None

    def stream_inspector(self, route: Route) -> EventStreamInspector:
        model = pricing_model(route.model) if route.model and route.model.startswith("arn:") else None
        return EventStreamInspector(model)

    def new_request_id(self) -> str:
        return ids.uuid4()

    def error(self, status, fault=Fault.INJECTED, *, message=None, retry_after=None, limit=None, route=None) -> Answer:
        code, default = BEDROCK_ERRORS.get(
            status,
            ("ValidationException", "The request is not valid.")
            if status < 500
            else ("InternalServerException", "The system encountered an unexpected error during processing."),
        )
        namespace = BEDROCK_NS
        if fault in FAULT_CODES:
            code, namespace = FAULT_CODES[fault]
        headers = [("x-amzn-ErrorType", f"{code}:{namespace}"), ("x-amzn-RequestId", self.new_request_id())]
        if retry_after is not None:
            headers.append(("x-amz-retry-after", str(int(retry_after * 1000))))
        return self.json_answer(status, {"message": message or default}, headers)


provider_classes = [BedrockProvider]

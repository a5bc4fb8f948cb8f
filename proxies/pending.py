"""A write's answer once the running proxy has applied it, or 202 `pending` with where to poll.

A write the running proxy acts on (an edit, failures, a cache clear, start, stop) answers once it has (a start once
it runs or failed, a stop once it stopped), with the proxy as it serves now. If it has not within
RUBBERDUCK_APPLY_WAIT_SECONDS: 202 `pending` with a `Location` that answers 202 until it has and the proxy is no
longer starting or stopping, then 200 with what the write would have answered.
"""

from collections.abc import Callable
from urllib.parse import urlencode

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from proxies import services
from proxies.models import Proxy
from proxies.serializers import PendingSerializer


def applied(
    request, proxy: Proxy, answer: Callable[[Proxy], object], poll: str, steady: bool = False, **params
) -> Response:
    """`answer(proxy)` once the proxy serves the revision this request wrote (services.wait_applied), else 202
    pending with the URL to poll (`poll`, with the revision and `params` as its query)."""
    revision = proxy.revision
    if services.wait_applied(proxy, steady=steady):
        return Response(answer(proxy))
    return pending(request, proxy, revision, f"{poll}?{urlencode({'revision': revision, **params})}")


def pending(request, proxy: Proxy, revision: int, location: str) -> Response:
    """202: `revision` is saved, the proxy does not serve it yet; `location` answers once it does."""
    body = {
        "status": "pending",
        "detail": "Saved, but the proxy does not serve it yet. GET the Location until it answers 200.",
        "revision": revision,
        "applied_revision": proxy.applied_revision,
    }
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": request.build_absolute_uri(location)})


def settled(proxy: Proxy, revision: int) -> bool:
    """What a poll waits for: the write applied, and the proxy no longer starting or stopping."""
    return proxy.has_applied(revision) and proxy.is_steady()


def poll(request, proxy: Proxy) -> Response | None:
    """202 pending when the request polls a write (`?revision=`) that the proxy has not settled; else None."""
    revision = polled_revision(request)
    if revision is None or settled(proxy, revision):
        return None
    return pending(request, proxy, revision, request.get_full_path())


def polled_revision(request) -> int | None:
    """The `revision` a poll of a pending write waits for; None when it is no poll."""
    value = request.query_params.get("revision")
    if value is None:
        return None
    if not value.isdigit():
        raise ValidationError({"revision": ["A whole number is required."]})
    return int(value)


def detail_path(request) -> str:
    """The proxy's own URL path, from that of one of its actions (…/proxies/7/start -> …/proxies/7/)."""
    return request.path[: request.path.rindex("/") + 1]


POLLED = OpenApiParameter(
    "revision",
    OpenApiTypes.INT,
    description="Polls a pending write (its `Location`): 202 until the proxy serves this revision and is no "
    "longer starting or stopping, then 200.",
)
LOCATION = OpenApiParameter(
    "Location",
    OpenApiTypes.URI,
    OpenApiParameter.HEADER,
    response=[202],
    description="Where to poll: it answers 202 until the proxy serves the change, then 200.",
)
PENDING = OpenApiResponse(
    PendingSerializer,
    "Saved, but the running proxy has not applied it within RUBBERDUCK_APPLY_WAIT_SECONDS: poll the `Location`.",
)

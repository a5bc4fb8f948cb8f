"""`GET /api/v1/metrics/`: roll-up buckets of the user's proxies (all of them, or one with `proxy=`)."""

from __future__ import annotations

from datetime import timedelta

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from logs.selectors import iso
from metrics.models import MetricBucket
from metrics.rollup import WINDOW_SECONDS, floor
from metrics.serializers import MetricBucketSerializer
from restapi.ids import MAX_ID
from restapi.openapi import errors

DEFAULT_SPAN = {"1m": timedelta(hours=1), "15m": timedelta(days=1), "1h": timedelta(days=7)}
MAX_BUCKETS = 5000


class MetricsQuery(serializers.Serializer):
    window = serializers.ChoiceField(choices=list(WINDOW_SECONDS), default="1m")
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    proxy = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)

    def validate(self, attrs):
        until = attrs.get("until") or timezone.now()
        since = attrs.get("since") or until - DEFAULT_SPAN[attrs["window"]]
        if since > until:
            raise serializers.ValidationError({"until": ["Must not be before since."]})
        if (until - since).total_seconds() / WINDOW_SECONDS[attrs["window"]] > MAX_BUCKETS:
            raise serializers.ValidationError({"since": [f"At most {MAX_BUCKETS} buckets: use a wider window."]})
        return {**attrs, "since": since, "until": until}


def bucket_of(window: str, start, b: MetricBucket | None) -> dict:
    requests = b.requests if b else 0
    return {
        "start": iso(start),
        "window": window,
        "requests": requests,
        "rpm": round(requests / (WINDOW_SECONDS[window] / 60), 3),
        "cache_hits": b.cache_hits if b else 0,
        "cache_hit_rate": round(b.cache_hits / requests, 4) if requests else 0.0,
        "errors": b.errors if b else 0,
        "error_rate": round(b.errors / requests, 4) if requests else 0.0,
        "cost_usd": float(b.cost_usd) if b else 0.0,
        "running_proxies": b.running_proxies if b else 0,
        "stopped_proxies": b.stopped_proxies if b else 0,
        "in_flight": b.in_flight if b else 0,
        "avg_latency_ms": round(b.latency_ms_sum / requests, 3) if requests else None,
    }


class MetricsApi(APIView):
    """Every bucket of the range, oldest first; a window without traffic is a bucket of zeros, so charts
    have no holes. The current 15 m / 1 h bucket trails the 1 m ones by a few seconds (folded periodically)."""

    @extend_schema(
        operation_id="metrics_list",
        summary="Roll-up buckets of your proxies' traffic",
        parameters=[MetricsQuery],
        responses={200: MetricBucketSerializer(many=True), **errors(400, 401, 404)},
    )
    def get(self, request):
        query = MetricsQuery(data={k: v for k, v in request.query_params.items() if v != ""})
        query.is_valid(raise_exception=True)
        q = query.validated_data
        window, seconds = q["window"], WINDOW_SECONDS[q["window"]]
        buckets = MetricBucket.objects.filter(owner=request.user, window=window)
        if "proxy" in q:
            get_object_or_404(request.user.proxies.all(), pk=q["proxy"])
            buckets = buckets.filter(proxy_id=q["proxy"])
        else:
            buckets = buckets.filter(proxy__isnull=True)
        first = floor(q["since"], seconds)
        found = {b.start: b for b in buckets.filter(start__gte=first, start__lt=q["until"])}
        result, start, step = [], first, timedelta(seconds=seconds)
        while start < q["until"]:
            result.append(bucket_of(window, start, found.get(start)))
            start += step
        return Response(result)

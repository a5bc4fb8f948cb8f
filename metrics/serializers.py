"""The shape of a metrics bucket (metrics.api.bucket_of builds it), for the API's schema."""

from rest_framework import serializers

from metrics.rollup import WINDOW_SECONDS


class MetricBucketSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    window = serializers.ChoiceField(choices=list(WINDOW_SECONDS))
    requests = serializers.IntegerField()
    rpm = serializers.FloatField(help_text="Requests per minute over the bucket.")
    cache_hits = serializers.IntegerField()
    cache_hit_rate = serializers.FloatField(help_text="0..1")
    errors = serializers.IntegerField(help_text="Answers with a status of 400 or more, or a simulated failure.")
    error_rate = serializers.FloatField(help_text="0..1")
    cost_usd = serializers.FloatField()
    running_proxies = serializers.IntegerField()
    stopped_proxies = serializers.IntegerField()
    in_flight = serializers.IntegerField()
    avg_latency_ms = serializers.FloatField(allow_null=True, help_text="null: no requests.")

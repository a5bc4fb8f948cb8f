"""Validation of the failure config (GET/PUT /api/v1/proxies/{id}/failures)."""

from rest_framework import serializers

from proxies.failures import parse_ip_pattern


class TimeoutSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=["off", "delay", "hang"], default="off")
    seconds = serializers.FloatField(min_value=0, default=0)
    rate = serializers.FloatField(min_value=0, max_value=1, default=1.0)


class ErrorRuleSerializer(serializers.Serializer):
    status = serializers.IntegerField(min_value=400, max_value=599)
    rate = serializers.FloatField(min_value=0, max_value=1)


class StreamSerializer(serializers.Serializer):
    cut_after_events = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    chunk_delay_ms = serializers.FloatField(min_value=0, required=False, default=0)
    rate = serializers.FloatField(min_value=0, max_value=1, default=1.0)


class IPPatternField(serializers.CharField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            parse_ip_pattern(value)
        except ValueError:
            raise serializers.ValidationError(
                f"{value!r} is not an IP address, CIDR range or wildcard pattern."
            ) from None
        return value


class FailureConfigSerializer(serializers.Serializer):
    timeout = TimeoutSerializer(required=False)
    errors = ErrorRuleSerializer(many=True, required=False)
    ip_allow = serializers.ListField(child=IPPatternField(), required=False)
    ip_block = serializers.ListField(child=IPPatternField(), required=False)
    rpm_limit = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    stream = StreamSerializer(required=False)
    seed = serializers.IntegerField(required=False, allow_null=True)

    def to_config(self) -> dict:
        return {k: v for k, v in self.validated_data.items() if v is not None}

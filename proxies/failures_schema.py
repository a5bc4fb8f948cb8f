"""Validation of the failure config (GET/PUT /api/v1/proxies/{id}/failures).

Strict on types: a status or a limit must be a JSON integer, a rate or a number of seconds a JSON number
(never a string, a boolean or a non-finite value); unknown keys are refused rather than silently dropped,
so a typo never passes for an active rule. Errors come back per field, with its path (DRF's nested shape).
"""

import math

from rest_framework import serializers

from proxies.failures import parse_ip_pattern


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "A whole number is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    default_error_messages = {"invalid": "A number is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float) or not math.isfinite(data):
            self.fail("invalid")
        return super().to_internal_value(data)


def rate_field(**kw):
    return StrictFloatField(min_value=0, max_value=1, **kw)


class StrictSerializer(serializers.Serializer):
    """Refuses keys it does not know, naming each one."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({key: ["Unknown field."] for key in unknown})
        return super().to_internal_value(data)


class TimeoutSerializer(StrictSerializer):
    mode = serializers.ChoiceField(choices=["off", "delay", "hang"], default="off")
    seconds = StrictFloatField(min_value=0, default=0)
    rate = rate_field(default=1.0)


class ErrorRuleSerializer(StrictSerializer):
    status = StrictIntegerField(min_value=400, max_value=599)
    rate = rate_field()


class StreamSerializer(StrictSerializer):
    cut_after_events = StrictIntegerField(min_value=0, required=False, allow_null=True)
    chunk_delay_ms = StrictFloatField(min_value=0, required=False, allow_null=True)
    rate = rate_field(default=1.0)


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


class FailureConfigSerializer(StrictSerializer):
    """A proxy's failures: every part is optional, an absent part is off; unknown keys are refused."""

    timeout = TimeoutSerializer(required=False)
    errors = ErrorRuleSerializer(many=True, required=False)
    ip_allow = serializers.ListField(child=IPPatternField(), required=False)
    ip_block = serializers.ListField(child=IPPatternField(), required=False)
    rpm_limit = StrictIntegerField(min_value=1, required=False, allow_null=True)
    stream = StreamSerializer(required=False)
    seed = StrictIntegerField(required=False, allow_null=True)

    def validate_errors(self, rules):
        # The error rules share one draw: each status fires with its own rate, so together at most 1.
        if sum(rule["rate"] for rule in rules) > 1 + 1e-9:
            raise serializers.ValidationError(
                "The error rates add up to more than 1; a request can get only one error."
            )
        return rules

    def to_config(self) -> dict:
        config = {k: v for k, v in self.validated_data.items() if v is not None}
        if "stream" in config:
            config["stream"] = {k: v for k, v in config["stream"].items() if v is not None}
        return config

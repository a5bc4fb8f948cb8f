"""The shapes of the logs API's answers, for its schema (the answers themselves are built in logs/raw.py,
without serializers: an export can be millions of rows)."""

from rest_framework import serializers

from logs.models import ENTRY_FIELDS, LogEntry


class LogEntrySerializer(serializers.ModelSerializer):
    """The metadata of one request a proxy received: never a body, never a credential."""

    proxy = serializers.IntegerField(help_text="The proxy's id.")
    cost_usd = serializers.FloatField(allow_null=True, help_text="Estimated upstream cost; null: model not priced.")

    class Meta:
        model = LogEntry
        fields = ENTRY_FIELDS
        read_only_fields = ENTRY_FIELDS


class LogPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="The same as `total`.")
    total = serializers.IntegerField(
        help_text="Entries that match the filters (as of the first page): exact up to 10,000, else 10,000; where "
        "counting would take too long, the entries the page read."
    )
    total_is_lower_bound = serializers.BooleanField(
        help_text="True when `total` is a lower bound (show it as e.g. 10,000+)."
    )
    next = serializers.URLField(allow_null=True, help_text="The next page (older entries); null on the last one.")
    results = LogEntrySerializer(many=True)

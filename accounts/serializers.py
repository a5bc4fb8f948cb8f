from django.contrib.auth import get_user_model
from rest_framework import serializers

import providers
from accounts.models import ApiToken, SiteSettings

METRIC_WINDOWS = ("1m", "15m", "1h")


class MeSerializer(serializers.ModelSerializer):
    # One display name, kept in Django's first_name (last_name stays empty) so no profile table is needed.
    name = serializers.CharField(source="first_name", max_length=150, allow_blank=True, required=False)

    class Meta:
        model = get_user_model()
        fields = ["id", "email", "name", "is_staff", "date_joined"]
        read_only_fields = ["id", "email", "is_staff", "date_joined"]


class TokenSerializer(serializers.ModelSerializer):
    """An API token: never its key or the key's hash (the key is shown once, in the answer that creates it)."""

    class Meta:
        model = ApiToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at"]
        read_only_fields = ["id", "prefix", "created_at", "last_used_at"]


class TokenCreatedSerializer(TokenSerializer):
    """A new API token with its key, shown this once: send it as `Authorization: Token <key>`."""

    key = serializers.CharField(read_only=True)

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "key"]


class SiteSettingsSerializer(serializers.ModelSerializer):
    log_retention_days = serializers.IntegerField(min_value=1, max_value=3650)
    metrics_retention_days = serializers.DictField(child=serializers.IntegerField(min_value=1, max_value=3650))
    default_upstreams = serializers.DictField(child=serializers.URLField(allow_blank=True), required=False)
    editable = serializers.SerializerMethodField()

    class Meta:
        model = SiteSettings
        fields = [
            "log_retention_days",
            "metrics_retention_days",
            "signup_open",
            "default_upstreams",
            "allow_private_upstreams",
            "server_aws_credentials",
            "editable",
        ]
        extra_kwargs = {
            "allow_private_upstreams": {
                "help_text": "Whether every user's proxies may forward to loopback, private and link-local "
                "addresses (cloud metadata, this server's own ports). Staff's proxies always may."
            },
            "server_aws_credentials": {
                "help_text": "Whose Bedrock proxies may have requests re-signed with this server's own AWS "
                "credentials (only ever towards Bedrock Runtime's own hosts)."
            },
        }

    def get_editable(self, obj) -> bool:
        request = self.context.get("request")
        return bool(request and request.user.is_staff)

    def validate_metrics_retention_days(self, value):
        if set(value) != set(METRIC_WINDOWS):
            raise serializers.ValidationError(f"Give exactly the windows {', '.join(METRIC_WINDOWS)}.")
        return value

    def validate_default_upstreams(self, value):
        unknown = sorted(set(value) - set(providers.registry()))
        if unknown:
            raise serializers.ValidationError(f"Unknown provider id(s): {', '.join(unknown)}.")
        # An empty URL means "the provider's official endpoint": drop it rather than store it.
        return {provider_id: url for provider_id, url in value.items() if url}

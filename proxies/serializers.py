from django.conf import settings
from rest_framework import serializers

import providers
from proxies.addresses import url_refusal
from proxies.failures_schema import FailureConfigSerializer
from proxies.models import Proxy
from proxies.policy import policies
from restapi.openapi import ApiErrorSerializer


class ProxySerializer(serializers.ModelSerializer):
    """A proxy: one provider's API on its own port. `base_url` is what a client puts in its SDK."""

    provider = serializers.ChoiceField(
        choices=sorted(providers.registry()),
        error_messages={
            "invalid_choice": f"Unknown provider. Choose one of: {', '.join(sorted(providers.registry()))}."
        },
    )
    port = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=65535)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    base_url = serializers.SerializerMethodField()
    applied = serializers.SerializerMethodField(
        help_text="False while the runner holding the proxy has yet to apply a change (`revision`) to it."
    )

    class Meta:
        model = Proxy
        fields = [
            "id",
            "name",
            "provider",
            "model_name",
            "port",
            "upstream_url",
            "tls",
            "replay",
            "cache_mode",
            "description",
            "tags",
            "status",
            "last_error",
            "base_url",
            "revision",
            "applied",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "status", "last_error", "base_url", "revision", "created_at", "updated_at"]
        extra_kwargs = {"revision": {"help_text": "Counts the changes made to the proxy through the API."}}

    def get_applied(self, proxy: Proxy) -> bool:
        return proxy.has_applied(proxy.revision)

    def get_base_url(self, proxy: Proxy) -> str:
        scheme = "https" if proxy.tls else "http"
        host = settings.RUBBERDUCK_PROXY_HOST
        host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        host = f"[{host}]" if ":" in host else host
        try:
            suffix = providers.get(proxy.provider).client_base_path
        except KeyError:
            suffix = ""
        return f"{scheme}://{host}:{proxy.port}{suffix}"

    def validate_upstream_url(self, value):
        """Refuses a host in a private network unless the owner may reach those (proxies/addresses.py)."""
        owner = self.instance.owner if self.instance is not None else self.context.get("owner")
        if not value or policies().of(owner).private_networks:
            return value
        reason = url_refusal(value)
        if reason is not None:
            raise serializers.ValidationError(
                f"This upstream is not reachable for your proxies: {reason}. Only staff can allow private networks."
            )
        return value

    def validate_name(self, value):
        # The owner of a new proxy comes from the view (context); a name is unique among one owner's proxies.
        owner = self.instance.owner if self.instance is not None else self.context["owner"]
        if self.others(Proxy.objects.filter(owner=owner, name=value)).exists():
            raise serializers.ValidationError("You already have a proxy with this name.")
        return value

    def validate_port(self, value):
        if value is None:
            return value
        if self.port_clashes(value).exists():
            raise serializers.ValidationError("This port is already used by another proxy.")
        return value

    def port_clashes(self, port: int):
        """The proxies that hold `port` and stop this one from taking it."""
        return self.others(Proxy.objects.filter(port=port))

    def others(self, proxies):
        return proxies if self.instance is None else proxies.exclude(pk=self.instance.pk)

    def validate(self, attrs):
        provider_id = attrs.get("provider") or (self.instance.provider if self.instance else None)
        upstream = attrs.get("upstream_url", self.instance.upstream_url if self.instance else "")
        if provider_id in providers.registry() and providers.get(provider_id).upstream_required and not upstream:
            raise serializers.ValidationError(
                {"upstream_url": "This provider needs the upstream URL of your resource."}
            )
        return attrs


class PendingSerializer(serializers.Serializer):
    """A write that is saved, but that the proxy does not serve yet: poll the answer's `Location`."""

    status = serializers.ChoiceField(choices=["pending"])
    detail = serializers.CharField()
    revision = serializers.IntegerField(help_text="The proxy's revision the write made; it is applied at or above.")
    applied_revision = serializers.IntegerField(help_text="The last revision the runner serving it has acted on.")


class StopSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=Proxy.StopMode.choices, default=Proxy.StopMode.GRACEFUL)


class OperationSerializer(serializers.Serializer):
    """One operation of a provider's API that its proxies model."""

    operation = serializers.CharField(help_text="Its name, e.g. `messages` or `converse_stream`.")
    method = serializers.CharField()
    stream = serializers.ChoiceField(
        choices=["never", "always", "body"], help_text="`body`: it streams when the request body says `stream: true`."
    )
    paths = serializers.ListField(child=serializers.CharField(), help_text="e.g. `/v1/models/{model}`.")


class WebSocketAPISerializer(serializers.Serializer):
    api = serializers.CharField(help_text="e.g. `Realtime`.")
    path = serializers.CharField(help_text="e.g. `/v1/realtime`.")


class CoverageSerializer(serializers.Serializer):
    """What a proxy of this provider does with each request."""

    cached = OperationSerializer(many=True, help_text="Forwarded once; identical repeats are answered from the cache.")
    forwarded = OperationSerializer(many=True, help_text="Modelled, forwarded every time, never cached.")
    passthrough = serializers.ListField(
        child=serializers.CharField(), help_text="The API roots under which any other request passes through uncached."
    )
    websockets = WebSocketAPISerializer(
        many=True,
        help_text="The WebSocket APIs its SDKs open: tunnelled both ways, never cached, the failure rules at the "
        "handshake (as any WebSocket under the API roots).",
    )
    refused = serializers.CharField(help_text="What is never forwarded, and how it is answered.")


class ProviderSerializer(serializers.Serializer):
    """A provider a proxy can speak for (`provider` of a proxy is its `id`)."""

    id = serializers.CharField()
    name = serializers.CharField()
    default_upstream_url = serializers.CharField(help_text="Where a proxy forwards when its `upstream_url` is empty.")
    coverage = CoverageSerializer()


class CloneSerializer(serializers.Serializer):
    name = serializers.CharField(
        required=False, help_text="The copy's name; by default the first free of `NAME-copy`, `NAME-copy-2`, ..."
    )


class ProxyDeclarationSerializer(ProxySerializer):
    """A proxy in a declaration: the fields of a proxy and its failure config. A field left out takes its default,
    except `port`: an existing proxy keeps its own, a new one is given a free one. See docs/declarations.md."""

    failures = FailureConfigSerializer(required=False)

    class Meta(ProxySerializer.Meta):
        fields = [*ProxySerializer.Meta.fields, "failures"]


class DeclarationSerializer(serializers.Serializer):
    """A declaration: your proxies by name (documents `POST /api/v1/apply`; proxies/declarations.py checks it)."""

    version = serializers.IntegerField(required=False, min_value=1, max_value=1)
    prune = serializers.BooleanField(required=False, help_text="Also delete your proxies the list does not name.")
    proxies = ProxyDeclarationSerializer(many=True)


class ApplyOutcomeSerializer(serializers.Serializer):
    """What an apply did (or, on a dry run, would do), by proxy name."""

    created = serializers.ListField(child=serializers.CharField())
    changed = serializers.ListField(child=serializers.CharField())
    unchanged = serializers.ListField(child=serializers.CharField())
    deleted = serializers.ListField(child=serializers.CharField(), help_text="Empty without prune.")
    dry_run = serializers.BooleanField()


class DeclarationErrorSerializer(serializers.Serializer):
    path = serializers.CharField(help_text="Where in the document, e.g. `proxies[2].failures.errors[0].rate`.")
    message = serializers.CharField()


class DeclarationErrorsSerializer(ApiErrorSerializer):
    """A declaration that cannot be applied: every error, each with its path; nothing was changed. A body that
    does not parse has no `errors`, only `detail` and `code`."""

    errors = DeclarationErrorSerializer(many=True, required=False)


class CacheEntrySerializer(serializers.Serializer):
    """One stored answer: what identifies its request (never a credential, never its body) and its answer's size."""

    key = serializers.CharField(help_text="The cache key (sha256 hex).")
    method = serializers.CharField()
    path = serializers.CharField(help_text="With its query, credential parameters removed.")
    model = serializers.CharField()
    status = serializers.IntegerField()
    stream = serializers.BooleanField(help_text="A stream, replayed as one.")
    size = serializers.IntegerField(help_text="The answer's bytes.")
    hits = serializers.IntegerField(help_text="Calls it answered (counted about once a second).")
    recorded_at = serializers.DateTimeField()
    last_hit_at = serializers.DateTimeField(allow_null=True)


class CacheEntryPageSerializer(serializers.Serializer):
    """A page of a proxy's stored answers, newest first; the totals are of all that match the filters."""

    count = serializers.IntegerField()
    total_bytes = serializers.IntegerField()
    total_hits = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = CacheEntrySerializer(many=True)


class ImportOutcomeSerializer(serializers.Serializer):
    added = serializers.IntegerField(help_text="Keys the cache did not have.")
    replaced = serializers.IntegerField(help_text="Keys it had with another answer.")
    unchanged = serializers.IntegerField(help_text="Keys it had with the same answer.")


class RecordingErrorSerializer(ApiErrorSerializer):
    """A recording file that cannot be imported: `detail` says why, `line` where (1 is the header). Nothing was
    imported."""

    line = serializers.IntegerField(required=False)

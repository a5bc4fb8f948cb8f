from django.conf import settings
from django.db import models


class Proxy(models.Model):
    """One emulated provider endpoint on its own port. The API writes desired state; the runner writes status."""

    class Status(models.TextChoices):
        RUNNING = "running"
        STOPPED = "stopped"
        STARTING = "starting"
        STOPPING = "stopping"
        ERROR = "error"

    class Desired(models.TextChoices):
        RUNNING = "running"
        STOPPED = "stopped"

    class StopMode(models.TextChoices):
        GRACEFUL = "graceful"
        FORCE = "force"

    class Replay(models.TextChoices):
        INSTANT = "instant"
        RECORDED = "recorded"

    class CacheMode(models.TextChoices):
        RECORD = "record"  # answer from the cache, forward a miss and store its answer
        REPLAY = "replay"  # answer from the cache only: a miss is an error, never forwarded
        REFRESH = "refresh"  # always forward, store the newest answer
        OFF = "off"  # never read or write the cache

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="proxies")
    name = models.CharField(max_length=100)
    provider = models.CharField(max_length=32)
    model_name = models.CharField(max_length=200)
    port = models.PositiveIntegerField(unique=True)
    upstream_url = models.URLField(max_length=500, blank=True, default="")
    tls = models.BooleanField(default=False)
    replay = models.CharField(max_length=16, choices=Replay.choices, default=Replay.INSTANT)
    cache_mode = models.CharField(max_length=16, choices=CacheMode.choices, default=CacheMode.RECORD)
    description = models.TextField(blank=True, default="")
    tags = models.JSONField(default=list, blank=True)
    # The failure configuration (see proxies/failures.py); {} means no failures.
    failures = models.JSONField(default=dict, blank=True)

    desired_state = models.CharField(max_length=16, choices=Desired.choices, default=Desired.RUNNING)
    stop_mode = models.CharField(max_length=16, choices=StopMode.choices, default=StopMode.GRACEFUL)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.STOPPED)
    last_error = models.TextField(null=True, blank=True)
    # Which runner serves this proxy, and until when its claim holds (several runner processes).
    cache_cleared_at = models.DateTimeField(null=True, blank=True)
    # What the runner removed at that clear beyond the rows the API deleted (answers in memory, stores in flight).
    cache_cleared_extra = models.PositiveIntegerField(default=0)
    # Bumped by a write of single entries (a delete, an import): the runner serving the proxy then reloads which
    # keys it has stored and forgets in memory those that changed (proxies/cache.py, ProxyCache.reload).
    cache_version = models.PositiveBigIntegerField(default=0)
    runner_id = models.CharField(max_length=64, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Counts the API's changes to the proxy; the runner serving it writes the last one it has acted on, so a
    # write can answer once it took effect (proxies/services.py, wait_applied).
    revision = models.PositiveBigIntegerField(default=1)
    applied_revision = models.PositiveBigIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "proxies"
        # A name finds a proxy (`?name=`, declaration files), so it is unique among one owner's proxies.
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="proxy_unique_name_per_owner")]

    def __str__(self):
        return f"{self.name} ({self.provider}:{self.port})"

    def has_applied(self, revision: int) -> bool:
        """Whether nothing serves the proxy as it was before `revision`: the runner holding it has acted on it, or
        no runner holds it (the one that takes it reads it whole)."""
        return self.applied_revision >= revision or not self.runner_id

    def is_steady(self) -> bool:
        """Whether it runs, failed to start or is stopped: not still starting or stopping."""
        return self.status not in (self.Status.STARTING, self.Status.STOPPING)


class CacheEntry(models.Model):
    """A complete 2xx answer. For a stream, `body` holds all its bytes and `chunks` how they arrived:
    [[offset_ms, length], ...], so a replay can re-cut and re-pace them."""

    proxy = models.ForeignKey(Proxy, on_delete=models.CASCADE, related_name="cache_entries", db_index=False)
    key = models.CharField(max_length=64)  # not indexed itself: rows are found by key_hash (proxies/store.py)
    key_hash = models.BigIntegerField(default=0)  # 8 bytes of the sha256 key (proxies/key_filter.py, key_hash)
    status = models.PositiveSmallIntegerField()
    headers = models.JSONField(default=list)
    body = models.BinaryField(default=b"")
    chunks = models.JSONField(null=True, blank=True)
    usage = models.JSONField(null=True, blank=True)
    size = models.PositiveIntegerField(default=0)
    hits = models.PositiveIntegerField(default=0)
    # When the answer was recorded (a refresh or an import records it again).
    created_at = models.DateTimeField(auto_now_add=True)
    # What the listing and a recording file show of the request: never a credential, never its body.
    method = models.CharField(max_length=10, blank=True, default="")
    path = models.CharField(max_length=500, blank=True, default="")  # credential query parameters removed
    model = models.CharField(max_length=200, blank=True, default="")
    stream = models.BooleanField(default=False)
    last_hit_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # A row found by its key's 8-byte hash, a proxy's hashes read in order to build its key filter, its rows
        # deleted together (D92).
        indexes = [models.Index(fields=["proxy", "key_hash"], name="cache_entry_proxy_key_hash")]
        verbose_name_plural = "cache entries"

    def __str__(self):
        return f"{self.proxy_id}:{self.key[:12]}"

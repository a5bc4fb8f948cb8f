from django.db import models
from django.db.models import Q

# A log entry as the API, the export and the live stream show it (the contract's fields, plus model).
ENTRY_FIELDS = (
    "id",
    "timestamp",
    "proxy",
    "ip",
    "method",
    "path",
    "prompt_hash",
    "status_code",
    "latency_ms",
    "cache",
    "failure",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "client_messages",
    "upstream_messages",
)

# The same, as the table's columns.
ENTRY_COLUMNS = tuple("proxy_id" if field == "proxy" else field for field in ENTRY_FIELDS)


class LogEntry(models.Model):
    """Metadata of one request that reached a proxy. Never a body, never a credential."""

    class Cache(models.TextChoices):
        HIT = "hit"
        MISS = "miss"
        BYPASS = "bypass"

    class Failure(models.TextChoices):
        TIMEOUT = "timeout"
        HANG = "hang"
        ERROR = "error"
        RATE_LIMIT = "rate_limit"
        IP_BLOCKED = "ip_blocked"
        STREAM_CUT = "stream_cut"
        NOT_RECORDED = "not_recorded"  # a replaying proxy had no recorded answer (docs/recordings.md)
        # The upstream's, never simulated: it could not be reached or broke off (the client got a 502/504 or the
        # cut), its 2xx did not parse, or its answer was over the cache's entry limit (forwarded, not cached).
        UPSTREAM_DOWN = "upstream_down"
        UPSTREAM_DNS = "upstream_dns"
        UPSTREAM_TLS = "upstream_tls"
        UPSTREAM_RESET = "upstream_reset"
        UPSTREAM_CUT = "upstream_cut"
        UPSTREAM_TIMEOUT = "upstream_timeout"
        UPSTREAM_INVALID = "upstream_invalid"
        TOO_LARGE = "too_large"

    # No index of its own: log_proxy_time starts with it, and every index costs each insert (D29).
    proxy = models.ForeignKey("proxies.Proxy", on_delete=models.CASCADE, related_name="log_entries", db_index=False)
    timestamp = models.DateTimeField(db_index=True)
    ip = models.CharField(max_length=64)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    prompt_hash = models.CharField(max_length=64, blank=True, default="")
    status_code = models.PositiveSmallIntegerField()
    latency_ms = models.FloatField()
    cache = models.CharField(max_length=8, choices=Cache.choices)
    failure = models.CharField(max_length=16, choices=Failure.choices, null=True, blank=True)
    model = models.CharField(max_length=200, blank=True, default="")
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost_usd = models.DecimalField(max_digits=14, decimal_places=8, null=True, blank=True)
    # A WebSocket session's (status 101, its duration in latency_ms): the messages each side sent through it.
    client_messages = models.PositiveIntegerField(null=True, blank=True)
    upstream_messages = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-timestamp", "-id"]
        # Ascending, read backwards for newest first: new rows append to their proxy's range instead of splitting
        # pages (D28).
        # The filter columns' own, for their rare values (D81): their newest entries, and a bounded count of them,
        # read only them. Partial, so that a row pays only for the indexes its values are rare in: every row has
        # an address, but few a status other than 200, a bypassed cache or a failure. A query names the index's
        # condition word for word (logs.selectors) for SQLite to use it. Each ends with `proxy`, so that a count of
        # a filter's value checks the owner's proxies in the index, without a visit to the table per entry (D110).
        # They also carry the other filters, so that entries rare together (a bypass with a 5xx, a 4xx from a busy
        # address) are found in whichever index the planner reads, and the table is read only for a match (D113,
        # D115). The bypass index leads with time, not `cache`: PostgreSQL drops a term its condition implies and
        # would scan it whole for a range.
        indexes = [
            models.Index(fields=["proxy", "timestamp", "id"], name="log_proxy_time"),
            models.Index(
                fields=["ip", "timestamp", "id", "status_code", "cache", "failure", "proxy"], name="log_ip_time"
            ),
            models.Index(
                fields=["status_code", "timestamp", "id", "cache", "failure", "ip", "proxy"],
                name="log_status_time",
                condition=Q(status_code__lt=200) | Q(status_code__gt=200),
            ),
            models.Index(
                fields=["timestamp", "id", "cache", "status_code", "failure", "ip", "proxy"],
                name="log_cache_time",
                condition=Q(cache="bypass"),
            ),
            models.Index(
                fields=["failure", "timestamp", "id", "status_code", "cache", "ip", "proxy"],
                name="log_failure_time",
                condition=Q(failure__isnull=False),
            ),
        ]
        verbose_name_plural = "log entries"

    def __str__(self):
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.method} {self.path} {self.status_code}"

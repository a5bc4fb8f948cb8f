from django.conf import settings
from django.db import models
from django.db.models import Q


class MetricBucket(models.Model):
    """Counts of one window of time for one proxy, or (proxy null) for all of its owner's proxies.

    The 1 m buckets are added to in the same transaction as the log rows they count (metrics/rollup.py);
    15 m and 1 h buckets are recomputed from the 1 m ones. `in_flight`, `running_proxies` and
    `stopped_proxies` are gauges sampled by the runner: the highest value seen in the window.
    """

    class Window(models.TextChoices):
        MINUTE = "1m"
        QUARTER = "15m"
        HOUR = "1h"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="metric_buckets")
    proxy = models.ForeignKey("proxies.Proxy", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    window = models.CharField(max_length=4, choices=Window.choices)
    start = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)
    cache_hits = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    cost_usd = models.DecimalField(max_digits=18, decimal_places=8, default=0)
    latency_ms_sum = models.FloatField(default=0)
    in_flight = models.PositiveIntegerField(default=0)
    running_proxies = models.PositiveIntegerField(default=0)
    stopped_proxies = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "proxy", "window", "start"],
                condition=Q(proxy__isnull=False),
                name="metric_bucket_proxy_unique",
            ),
            models.UniqueConstraint(
                fields=["owner", "window", "start"],
                condition=Q(proxy__isnull=True),
                name="metric_bucket_total_unique",
            ),
        ]
        indexes = [models.Index(fields=["window", "start"], name="metric_bucket_window_start")]

    def __str__(self):
        return f"{self.window} {self.start:%Y-%m-%d %H:%M} owner={self.owner_id} proxy={self.proxy_id}"

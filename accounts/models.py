import hashlib
import secrets

from django.conf import settings
from django.db import models


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """An API token. The key is shown once at creation; only its sha256 is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, user, name: str = "default") -> tuple["ApiToken", str]:
        """Creates a token; returns it with its plain key (never stored)."""
        key = "rd_" + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, prefix=key[:10], key_hash=hash_key(key))
        return token, key


def default_metrics_retention():
    return {"1m": 2, "15m": 30, "1h": 365}


class SiteSettings(models.Model):
    """The global settings: one row (pk=1), read through `SiteSettings.current()`, written by staff only."""

    class ServerCredentials(models.TextChoices):
        STAFF = "staff"
        EVERYONE = "everyone"
        NOBODY = "nobody"

    log_retention_days = models.PositiveIntegerField(default=30)
    metrics_retention_days = models.JSONField(default=default_metrics_retention)
    signup_open = models.BooleanField(default=True)
    default_upstreams = models.JSONField(default=dict, blank=True)  # {provider_id: url}; absent = provider default
    # Whether everyone's proxies may forward to loopback, private and link-local addresses (staff's always may).
    allow_private_upstreams = models.BooleanField(default=False)
    # Whose Bedrock proxies may have requests re-signed with this server's own AWS credentials.
    server_aws_credentials = models.CharField(
        max_length=16, choices=ServerCredentials.choices, default=ServerCredentials.STAFF
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "site settings"

    def __str__(self):
        return "Site settings"

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    @classmethod
    def current(cls) -> "SiteSettings":
        settings_row, _ = cls.objects.get_or_create(pk=1)
        return settings_row

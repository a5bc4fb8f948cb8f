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

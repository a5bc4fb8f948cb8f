"""Pure functions that turn environment values (read in settings.py) into settings, so settings.py stays
declarative and tests can check each choice without reloading the settings module."""


def email_settings(*, sendgrid_api_key: str, from_email: str) -> dict:
    """SendGrid (through anymail) when its API key is set, the console otherwise."""
    result = {
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "DEFAULT_FROM_EMAIL": from_email or "Rubberduck <noreply@rubberduck.local>",
    }
    if sendgrid_api_key:
        result["EMAIL_BACKEND"] = "anymail.backends.sendgrid.EmailBackend"
        result["ANYMAIL"] = {"SENDGRID_API_KEY": sendgrid_api_key}
    result["SERVER_EMAIL"] = result["DEFAULT_FROM_EMAIL"]
    return result


SOCIAL_PROVIDERS = {
    "google": {
        "SCOPE": ["openid", "profile", "email"],
        "AUTH_PARAMS": {"access_type": "online"},
    },
    "github": {
        "SCOPE": ["read:user", "user:email"],
    },
}


def socialaccount_providers(**apps: tuple[str, str]) -> dict:
    """SOCIALACCOUNT_PROVIDERS from (client id, secret) per provider, e.g. github=("id", "secret"): a provider gets
    an app (and so shows up in /config) only when both are set; a half-set pair is treated as unset rather than
    failing at login time."""
    result = {}
    for provider_id, conf in SOCIAL_PROVIDERS.items():
        provider = dict(conf)
        client_id, secret = apps.get(provider_id, ("", ""))
        if client_id and secret:
            provider["APPS"] = [{"client_id": client_id, "secret": secret, "key": ""}]
        result[provider_id] = provider
    return result


def cache_settings(redis_url: str) -> dict:
    """CACHES: rate-limit counters must be shared by every process that serves requests. LocMem is shared inside
    the one process `make run` starts; with several processes set REDIS_URL (Django's own RedisCache)."""
    if redis_url:
        return {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}
    return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "rubberduck"}}

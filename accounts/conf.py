"""Pure functions that turn environment values into settings, so settings.py stays declarative and tests can
check each choice without reloading the settings module."""

from collections.abc import Mapping


def email_settings(environ: Mapping[str, str]) -> dict:
    """SendGrid (through anymail) when SENDGRID_API_KEY is set, the console otherwise."""
    api_key = environ.get("SENDGRID_API_KEY", "")
    result = {
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "DEFAULT_FROM_EMAIL": environ.get("DEFAULT_FROM_EMAIL") or "Rubberduck <noreply@rubberduck.local>",
    }
    if api_key:
        result["EMAIL_BACKEND"] = "anymail.backends.sendgrid.EmailBackend"
        result["ANYMAIL"] = {"SENDGRID_API_KEY": api_key}
    result["SERVER_EMAIL"] = result["DEFAULT_FROM_EMAIL"]
    return result


SOCIAL_PROVIDERS = {
    "google": {
        "env": ("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"),
        "SCOPE": ["openid", "profile", "email"],
        "AUTH_PARAMS": {"access_type": "online"},
    },
    "github": {
        "env": ("GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"),
        "SCOPE": ["read:user", "user:email"],
    },
}


def socialaccount_providers(environ: Mapping[str, str]) -> dict:
    """SOCIALACCOUNT_PROVIDERS: a provider gets an app (and so shows up in /config) only when both its client id
    and its secret are set; a half-set pair is treated as unset rather than failing at login time."""
    result = {}
    for provider_id, conf in SOCIAL_PROVIDERS.items():
        id_var, secret_var = conf["env"]
        provider = {k: v for k, v in conf.items() if k != "env"}
        client_id, secret = environ.get(id_var, ""), environ.get(secret_var, "")
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

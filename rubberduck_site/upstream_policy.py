"""The rules of proxies/policy.py, from the site settings (accounts): installed at start-up (rubberduck_site/apps.py)."""

from __future__ import annotations

from django.conf import settings
from django.db import connection

from accounts.models import SiteSettings
from proxies.policy import UpstreamPolicy


class SitePolicies:
    """Staff's proxies may use everything; others' what `allow_private_upstreams` (or the environment's
    RUBBERDUCK_ALLOW_PRIVATE_UPSTREAMS) and `server_aws_credentials` grant them."""

    def of(self, user) -> UpstreamPolicy:
        site = SiteSettings.objects.filter(pk=1).first() or SiteSettings()
        staff = bool(user is not None and user.is_staff)
        whom = site.server_aws_credentials
        return UpstreamPolicy(
            private_networks=staff or settings.RUBBERDUCK_ALLOW_PRIVATE_UPSTREAMS or site.allow_private_upstreams,
            server_credentials=whom == SiteSettings.ServerCredentials.EVERYONE
            or (whom == SiteSettings.ServerCredentials.STAFF and staff),
        )

    def version(self) -> object:
        """When the site settings were last saved, as the database gives it: plain SQL built once, as the runner
        asks twice a second (D95)."""
        with connection.cursor() as cursor:
            cursor.execute(VERSION)
            row = cursor.fetchone()
        return row[0] if row else None


def _version_sql() -> str:
    quote = connection.ops.quote_name
    table, updated = quote(SiteSettings._meta.db_table), quote(SiteSettings._meta.get_field("updated_at").column)
    return f"SELECT {updated} FROM {table} WHERE {quote(SiteSettings._meta.pk.column)} = 1"


VERSION = _version_sql()

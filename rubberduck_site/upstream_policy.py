"""The rules of proxies/policy.py, from the site settings (accounts): installed at start-up (rubberduck_site/apps.py)."""

from __future__ import annotations

from django.conf import settings

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
        return SiteSettings.objects.filter(pk=1).values_list("updated_at", flat=True).first()

"""What a user's proxies may use of the server itself: its private networks and its own AWS credentials."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from accounts.models import SiteSettings


@dataclass(frozen=True, slots=True)
class UpstreamPolicy:
    private_networks: bool  # may forward to loopback, private and link-local addresses (proxies/addresses.py)
    server_credentials: bool  # Bedrock requests may be re-signed with the server's own AWS credentials


def upstream_policy(user, site: SiteSettings | None = None) -> UpstreamPolicy:
    """`user`'s policy under `site` (the settings row; None: the row as it is now, or the defaults)."""
    site = site or SiteSettings.objects.filter(pk=1).first() or SiteSettings()
    private = bool(user.is_staff or settings.RUBBERDUCK_ALLOW_PRIVATE_UPSTREAMS or site.allow_private_upstreams)
    signing = site.server_aws_credentials == SiteSettings.ServerCredentials.EVERYONE or (
        site.server_aws_credentials == SiteSettings.ServerCredentials.STAFF and user.is_staff
    )
    return UpstreamPolicy(private_networks=private, server_credentials=signing)

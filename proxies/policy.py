"""What a user's proxies may use of the server itself: its private networks (proxies/addresses.py) and its own AWS
credentials (Bedrock re-signing, providers/bedrock.py).

The rules live in the site settings, which this package does not read: the composition root installs them
(rubberduck_site/upstream_policy.py). Until then, and for any process that does not, only staff may.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings


@dataclass(frozen=True, slots=True)
class UpstreamPolicy:
    private_networks: bool  # may forward to loopback, private and link-local addresses
    server_credentials: bool  # Bedrock requests may be re-signed with the server's own AWS credentials


class Policies(Protocol):
    def of(self, user) -> UpstreamPolicy:
        """The policy of `user`'s proxies (None: an unknown owner, who gets the least)."""

    def version(self) -> object:
        """A value that changes whenever the rules do, so running proxies can follow them."""


class StaffOnly:
    def of(self, user) -> UpstreamPolicy:
        staff = bool(user is not None and user.is_staff)
        return UpstreamPolicy(
            private_networks=staff or settings.RUBBERDUCK_ALLOW_PRIVATE_UPSTREAMS, server_credentials=staff
        )

    def version(self) -> object:
        return None


_installed: Policies = StaffOnly()


def install(rules: Policies) -> None:
    global _installed
    _installed = rules


def policies() -> Policies:
    return _installed

"""Where a proxy may forward to: public addresses only, unless its owner may reach private networks.

A user who may not (not staff, and neither RUBBERDUCK_ALLOW_PRIVATE_UPSTREAMS nor the site setting allows it) must
not turn a proxy into a way into the server's own network: loopback (the server's own ports, a database), private
and unique-local ranges, link-local (cloud metadata at 169.254.169.254), shared, reserved, unspecified or multicast
addresses, and this host's own addresses. The check runs when an upstream URL is saved and again on every new
connection (proxies/upstream.py), so a name that resolves to something else later (DNS rebinding) is caught too.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

NAT64 = ipaddress.ip_network("64:ff9b::/96")
KINDS = (
    ("loopback", lambda ip: ip.is_loopback),
    ("link-local", lambda ip: ip.is_link_local),
    ("unspecified", lambda ip: ip.is_unspecified),
    ("multicast", lambda ip: ip.is_multicast),
    ("private", lambda ip: ip.is_private),
    ("non-public", lambda ip: not ip.is_global),
)


def refusal(address: str) -> str | None:
    """Why a proxy of a restricted owner must not connect to `address` (an IP address), or None when it may."""
    kind = kind_of(address)
    return f"{address} is {kind}" if kind else None


def resolved_refusal(host: str, address: str) -> str | None:
    """The same for `address` found by resolving `host`."""
    kind = kind_of(address)
    return f"{host} resolves to {address}, {kind}" if kind else None


def kind_of(address: str) -> str | None:
    """What kind of address, of those off limits, `address` is; None for a public one."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    ip = embedded_ipv4(ip) or ip
    for kind, test in KINDS:
        if test(ip):
            return f"a {kind} address"
    if str(ip) in own_addresses():
        return "this server's own address"
    return None


def embedded_ipv4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), which is where it leads."""
    if ip.version == 4:
        return None
    if ip.ipv4_mapped or ip.sixtofour:
        return ip.ipv4_mapped or ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


@functools.cache
def own_addresses() -> frozenset[str]:
    """This host's addresses, as far as it knows them (its name's and the address the proxies bind)."""
    found = {settings.RUBBERDUCK_PROXY_HOST}
    try:
        found.update(info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None))
    except OSError:
        pass
    return frozenset(str(ipaddress.ip_address(a)) for a in found if is_ip(a))


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def url_refusal(url: str) -> str | None:
    """Why `url` must not be an upstream of a restricted owner: its host is, or resolves to, an address they may
    not reach. A name that does not resolve now passes; the connection is checked again when it is made."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    if is_ip(host):
        return refusal(host)
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    for info in infos:
        reason = resolved_refusal(host, info[4][0])
        if reason is not None:
            return reason
    return None

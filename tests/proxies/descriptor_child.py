"""A process serving one proxy (openai, no upstream needed) under a small open-files limit, for
test_descriptors.py: `python -m tests.proxies.descriptor_child PORT LIMIT`. Its logging goes to stderr; it prints
"serving" once it does, and stops when its stdin closes."""

from __future__ import annotations

import logging
import os
import resource
import sys
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rubberduck_site.settings")


def main(port: int, limit: int) -> None:
    import django

    django.setup()
    import providers
    from proxies.app import ProxyApp
    from proxies.cache import MemoryLRU, ProxyCache
    from proxies.failures import Chaos
    from proxies.flow import ProxySettings
    from proxies.limits import raise_descriptor_limit
    from proxies.server import ProxyServer
    from proxies.store import ProxyStore

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    records = []
    settings = ProxySettings(
        proxy_id=1,
        owner_id=1,
        provider=providers.get("openai"),
        upstream_url="http://127.0.0.1:9/v1",
        replay="off",
        chaos=Chaos({}),
        private_networks=True,
    )
    cache = ProxyCache(1, MemoryLRU(1 << 20), ThreadPoolExecutor(1), ProxyStore(1))
    server = ProxyServer(ProxyApp(settings, cache, records.append), "127.0.0.1", port, graceful_seconds=1,
                         upstream_timeout=5)  # fmt: skip
    server.start()
    print("serving", flush=True)
    sys.stdin.read()
    server.stop("force")
    print(f"logged {len(records)}", flush=True)
    raise_descriptor_limit()  # back up to the hard limit: said in the log


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))

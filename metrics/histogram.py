"""A Prometheus histogram fed a batch at a time (a custom collector, prometheus_client's documented extension).

prometheus_client's Histogram takes one value per observe(), with a bucket scan and a lock each; the log
writer observes every request, so that was a per-row cost on a thread that shares the GIL with the proxies.
Here a batch costs one bisect per value and one lock; scrapes see the same exposition as a Histogram's.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterable

from prometheus_client.core import HistogramMetricFamily
from prometheus_client.utils import floatToGoString


class BatchHistogram:
    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...], buckets: tuple[float, ...]):
        self.name, self.documentation, self.labelnames = name, documentation, labelnames
        self.bounds = sorted(buckets)
        self.le = [floatToGoString(b) for b in self.bounds] + ["+Inf"]
        self._series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}  # labels -> (counts, [sum])
        self._lock = threading.Lock()

    def observe_many(self, labels: tuple[str, ...], values: Iterable[float]) -> None:
        """Adds every value to the series of `labels` (Prometheus buckets: a value counts where value <= le)."""
        bounds = self.bounds
        counts, total = [0] * (len(bounds) + 1), 0.0
        for value in values:
            counts[bisect_left(bounds, value)] += 1
            total += value
        with self._lock:
            kept, kept_sum = self._series.setdefault(labels, ([0] * len(counts), [0.0]))
            for i, n in enumerate(counts):
                kept[i] += n
            kept_sum[0] += total

    def describe(self):
        return [HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self):
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        with self._lock:
            series = [(labels, list(counts), total[0]) for labels, (counts, total) in self._series.items()]
        for labels, counts, total in series:
            cumulative, buckets = 0, []
            for le, n in zip(self.le, counts, strict=True):
                cumulative += n
                buckets.append((le, cumulative))
            family.add_metric(list(labels), buckets, total)
        yield family

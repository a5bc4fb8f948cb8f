from prometheus_client import CollectorRegistry, Histogram, generate_latest

from metrics.histogram import BatchHistogram

BUCKETS = (0.005, 0.01, 0.5, 1, 120)
VALUES = [0.0, 0.005, 0.0051, 0.3, 1.0, 200.0]  # on an edge, between edges, past the last


def exposition(registry: CollectorRegistry) -> list[str]:
    return [line for line in generate_latest(registry).decode().splitlines() if "_created" not in line]


def test_a_batch_histogram_exposes_what_prometheus_clients_histogram_does_for_the_same_values():
    standard_registry, batch_registry = CollectorRegistry(), CollectorRegistry()
    standard = Histogram("latency_seconds", "Latency.", ("proxy",), buckets=BUCKETS, registry=standard_registry)
    batch = BatchHistogram("latency_seconds", "Latency.", ("proxy",), buckets=BUCKETS)
    batch_registry.register(batch)
    for value in VALUES:
        standard.labels("1").observe(value)
    standard.labels("2").observe(0.02)
    batch.observe_many(("1",), VALUES[:2])
    batch.observe_many(("1",), VALUES[2:])  # batches add up
    batch.observe_many(("2",), [0.02])

    assert exposition(batch_registry) == exposition(standard_registry)
    assert 'latency_seconds_bucket{le="0.005",proxy="1"} 2.0' in exposition(batch_registry)

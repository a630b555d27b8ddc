"""Reading the app's Prometheus metrics in tests: one sample of a /metrics text, or a
running server's whole scrape as {(name, labels): value}."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

from tests.support.server import Server, get


def metric_value(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        if series.split("{", 1)[0] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', series))
        if found == labels:
            return float(value)
    return 0.0


def scrape(server: Server) -> dict[tuple[str, frozenset], float]:
    reply = get(server, "/metrics")
    assert reply.status == 200, f"{reply}\n{server.output()}"
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(reply.body)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))

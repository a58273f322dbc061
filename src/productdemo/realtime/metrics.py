"""Counters of the realtime layer, exposed in Prometheus format at ``/metrics``.

The hot paths only add to plain integers; the Prometheus collector reads them when
scraped, so counting costs nothing measurable per message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


@dataclass
class RealtimeMetrics:
    messages_in: int = 0
    events_published: int = 0
    frames_out: int = 0
    conflated: int = 0
    refused_upgrades: Counter[int] = field(default_factory=Counter)
    closes: Counter[int] = field(default_factory=Counter)


class RealtimeCollector(Collector):
    def __init__(
        self,
        metrics: RealtimeMetrics,
        connections: Callable[[], int],
        broker_lag: Callable[[], float],
        broker_up: Callable[[], bool],
    ) -> None:
        self.metrics = metrics
        self.connections = connections
        self.broker_lag = broker_lag
        self.broker_up = broker_up

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        yield GaugeMetricFamily(
            "productdemo_connections", "Open WebSocket connections", value=self.connections()
        )
        yield CounterMetricFamily("productdemo_messages_in", "Client frames received", value=m.messages_in)
        yield CounterMetricFamily(
            "productdemo_events", "Events delivered to this instance's hub", value=m.events_published
        )
        yield CounterMetricFamily(
            "productdemo_frames_out", "Event frames queued to sockets", value=m.frames_out
        )
        yield CounterMetricFamily(
            "productdemo_conflated", "Queued state events superseded (dropped)", value=m.conflated
        )
        closes = CounterMetricFamily(
            "productdemo_closes", "Connections closed, by close code", labels=["code"]
        )
        for code, n in sorted(m.closes.items()):
            closes.add_metric([str(code)], n)
        yield closes
        refused = CounterMetricFamily(
            "productdemo_upgrades_refused", "Upgrades refused, by HTTP status", labels=["status"]
        )
        for status, n in sorted(m.refused_upgrades.items()):
            refused.add_metric([str(status)], n)
        yield refused
        yield GaugeMetricFamily(
            "productdemo_broker_lag_seconds",
            "Publish-to-delivery delay of the last event received from the broker",
            value=self.broker_lag(),
        )
        yield GaugeMetricFamily(
            "productdemo_broker_up", "1 when the broker is reachable", value=1 if self.broker_up() else 0
        )

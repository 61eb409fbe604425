"""Request metrics of the live server in the Prometheus text exposition format (no client library)."""

from __future__ import annotations

import threading
from collections import defaultdict

# Latency buckets (seconds) of the request histogram.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Counters per path and status class, and one latency histogram per path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str], int] = defaultdict(int)
        self.errors: dict[str, int] = defaultdict(int)
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = defaultdict(float)

    def observe(self, path: str, status: int, seconds: float) -> None:
        path = path if path in KNOWN_PATHS else "other"
        with self._lock:
            self.requests[(path, str(status))] += 1
            if status >= 400:
                self.errors[path] += 1
            counts = self.buckets.setdefault(path, [0] * (len(BUCKETS) + 1))
            for i, edge in enumerate(BUCKETS):
                if seconds <= edge:
                    counts[i] += 1
            counts[-1] += 1
            self.sums[path] += seconds

    def render(self, gauges: dict[str, float], drift: dict[tuple[str, str | None], dict[str, float]]) -> str:
        """Prometheus text; ``drift`` maps (target, timeframe or None) to its psi and ks (a feature's name
        repeats across timeframes, so the timeframe is a label of its own)."""
        lines = [
            "# HELP mlfactory_requests_total HTTP requests by path and status.",
            "# TYPE mlfactory_requests_total counter",
        ]
        with self._lock:
            for (path, status), n in sorted(self.requests.items()):
                lines.append(f'mlfactory_requests_total{{path="{path}",status="{status}"}} {n}')
            lines += ["# HELP mlfactory_request_errors_total HTTP responses with status >= 400.",
                      "# TYPE mlfactory_request_errors_total counter"]  # fmt: skip
            for path, n in sorted(self.errors.items()):
                lines.append(f'mlfactory_request_errors_total{{path="{path}"}} {n}')
            lines += [
                "# HELP mlfactory_request_seconds Request latency.",
                "# TYPE mlfactory_request_seconds histogram",
            ]
            for path, counts in sorted(self.buckets.items()):
                for edge, n in zip((*BUCKETS, "+Inf"), counts, strict=True):
                    lines.append(f'mlfactory_request_seconds_bucket{{path="{path}",le="{edge}"}} {n}')
                lines.append(f'mlfactory_request_seconds_sum{{path="{path}"}} {self.sums[path]:.6f}')
                lines.append(f'mlfactory_request_seconds_count{{path="{path}"}} {counts[-1]}')
        for name, value in gauges.items():
            lines += [f"# TYPE {name} counter", f"{name} {value}"]
        if drift:
            lines += ["# HELP mlfactory_drift Drift of a used feature or of the predicted classes (psi, ks).",
                      "# TYPE mlfactory_drift gauge"]  # fmt: skip
            for (target, tf), scores in sorted(drift.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
                where = f'target="{target}"' + (f',timeframe="{tf}"' if tf else "")
                for stat, value in sorted(scores.items()):
                    lines.append(f'mlfactory_drift{{{where},stat="{stat}"}} {value:.6g}')
        return "\n".join(lines) + "\n"


KNOWN_PATHS = frozenset(
    {"/bars", "/predictions", "/predictions/latest", "/health", "/metrics", "/openapi.json", "/docs"}
)

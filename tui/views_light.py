"""View constants that screens need before any analysis exists (no polars or numpy import here)."""

from __future__ import annotations

SORT_KEYS: tuple[str, ...] = ("task", "score", "metric", "family", "mirage", "p_adjusted")

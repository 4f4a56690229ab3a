"""Short words the tables show for a metric's kind (no polars: the overview screen imports it at start)."""

KIND_SHORT: dict[str, str] = {"discontinuous": "disc", "continuous": "cont"}

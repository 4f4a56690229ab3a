"""Field-by-field equality of fit results, bit for bit (arrays by value, NaN equal to NaN)."""

from __future__ import annotations

import numpy as np


def assert_same_fit(fit: object, other: object, key: object) -> None:
    """Every dataclass field of ``fit`` equals ``other``'s: arrays element by element, NaN equal to NaN."""
    for name in fit.__dataclass_fields__:  # type: ignore[attr-defined]
        a, b = getattr(fit, name), getattr(other, name)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg=f"{key} {name}")
        else:
            assert a == b or (a != a and b != b), (key, name, a, b)

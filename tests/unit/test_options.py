"""Each settings object validates its values when made: one rule and one cap for CLI, report and app."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.errors import InputError
from analysis.options import MAX_BOOTSTRAP, FitSettings, MetricOptions, ResampleSettings


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"bootstrap": -1}, "--bootstrap"),
        ({"bootstrap": MAX_BOOTSTRAP + 1}, str(MAX_BOOTSTRAP)),
        ({"bootstrap": 2.5}, "whole number"),
        ({"ci": 95}, "--ci"),
        ({"ci": 0.0}, "between 0 and 1"),
        ({"ci": 1.0}, "between 0 and 1"),
        ({"subsample": 0}, "--subsample"),
        ({"seed": 1.5}, "--seed"),
        ({"unit": "epoch"}, "--resample-unit"),
    ],
)
def test_resample_settings_refuse_bad_values_naming_the_option(changes: dict, needle: str) -> None:
    with pytest.raises(InputError, match=needle) as caught:
        ResampleSettings(**changes)
    assert isinstance(caught.value, ValueError) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"holdout": -1}, "--holdout"),
        ({"bootstrap": -5}, "--fit-bootstrap"),
        ({"bootstrap": MAX_BOOTSTRAP + 1}, "--fit-bootstrap"),
        ({"ci": 1.5}, "--ci"),
    ],
)
def test_fit_settings_refuse_bad_values_naming_the_option(changes: dict, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        FitSettings(**changes)


def test_metric_options_refuse_an_unknown_tokenizer() -> None:
    with pytest.raises(InputError, match="--tokenizer"):
        MetricOptions(tokenizer="words")


def test_the_limits_themselves_and_numpy_numbers_are_accepted() -> None:
    assert ResampleSettings(bootstrap=0, ci=0.5, subsample=1).bootstrap == 0
    assert [ResampleSettings(unit=u).unit for u in ("item", "seed", "run")] == ["item", "seed", "run"]
    assert ResampleSettings(bootstrap=MAX_BOOTSTRAP).bootstrap == MAX_BOOTSTRAP
    assert ResampleSettings(bootstrap=np.int64(7), ci=np.float64(0.9), seed=-3).bootstrap == 7
    assert FitSettings(holdout=0, bootstrap=0).holdout == 0
    assert MetricOptions(tokenizer="whitespace").tokenizer == "whitespace"

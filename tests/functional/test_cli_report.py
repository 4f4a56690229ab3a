"""`emergence-tui report` and `simulate` end to end: exit codes, one-line errors, strict JSON, 80 columns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis.formatting import fit_line
from analysis.simulate import mirage_curves
from tests.conftest import SHARED_DATA, file_digest, needs_shared_data
from tui.cli import main

FAST = ["--bootstrap", "100", "--fit-bootstrap", "20"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_report_json_on_sample_data_is_strict_and_complete(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "report", "--format", "json", *FAST)
    assert code == 0, err
    report = json.loads(out, parse_constant=lambda token: pytest.fail(f"non-strict JSON token {token}"))
    point = report["points"][0]
    for key in ("family", "model", "task", "metric", "params", "tokens", "flops", "value", "lo", "hi", "n"):
        assert key in point
    tasks = {p["task"] for p in report["points"]}
    assert tasks == {"long_answer", "multiple_choice", "inverse_scaling", "true_jump"}
    fit = report["fits"][0]
    assert {"family", "task", "metric", "law", "x", "params", "ci", "r2"} <= fit.keys()
    emergence = {(e["task"], e["metric"]): e for e in report["emergence"]}
    assert {"family", "kind", "status", "sentence", "scale", "jump", "jump_at", "p_adjusted", "score", "lo",
            "hi", "trend"} <= emergence[("long_answer", "exact_match")].keys()  # fmt: skip
    assert emergence[("inverse_scaling", "token_loss")]["status"] == "inverse"
    assert emergence[("true_jump", "token_loss")]["status"] == "jump"
    verdicts = {v["task"]: v for v in report["verdicts"]}
    assert {task: v["category"] for task, v in verdicts.items()} == {
        "long_answer": "mirage", "multiple_choice": "mirage", "inverse_scaling": "inverse",
        "true_jump": "survives",
    }  # fmt: skip
    assert any(note.startswith("verdict per discontinuous metric") for note in report["notes"])


def test_report_points_match_the_mirage_closed_form(capsys: pytest.CaptureFixture[str]) -> None:
    """The sample data is the mirage model: exact match over L = 20 tokens sits near p(N)**20."""
    code, out, _ = run(capsys, "report", "--format", "json", "--task", "long_answer", "--metric",
                       "exact_match", *FAST)  # fmt: skip
    assert code == 0
    rows = sorted(json.loads(out)["points"], key=lambda p: p["params"])
    params = np.array([r["params"] for r in rows])
    expected = mirage_curves(3e8, -0.7, params, 20, 4, spread=0.5)["exact_match"]
    for row, p_l in zip(rows, expected, strict=True):
        assert row["binom_lo"] - 0.01 <= p_l <= row["binom_hi"] + 0.01


def test_report_table_fits_80_columns_and_leads_with_verdicts(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "report", *FAST)
    assert code == 0
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    verdicts = [line for line in lines if line.startswith("verdict:")]
    assert len(verdicts) == 4
    assert any(v.startswith("verdict: mirage: exact_match looks like a jump") for v in verdicts)
    assert any(v.startswith("verdict: survives: exact_match looks like a jump at 3.16B") for v in verdicts)


def test_report_csv_has_one_row_per_point(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "report", "--format", "csv", "--metric", "mc_grade", *FAST)
    assert code == 0
    header, *rows = out.strip().splitlines()
    assert header.startswith("family,model,task,metric,params")
    assert len(rows) == 9  # nine model sizes, one task with mc_grade


def test_same_seed_same_numbers_other_seed_other_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    """token_loss's interval is its bootstrap's (exact_match's is exact: the same under any seed)."""
    args = ["report", "--format", "csv", "--metric", "token_loss", *FAST]
    first = run(capsys, *args, "--seed", "1")[1]
    again = run(capsys, *args, "--seed", "1")[1]
    other = run(capsys, *args, "--seed", "2")[1]
    assert first == again
    assert first != other


def test_the_report_reads_each_fit_in_the_one_fit_line_format(capsys: pytest.CaptureFixture[str]) -> None:
    _, table, _ = run(capsys, "report", "--holdout", "2", *FAST)
    _, out, _ = run(capsys, "report", "--holdout", "2", "--format", "json", *FAST)
    flat = " ".join(table.split())
    for fit in json.loads(out)["fits"]:
        bt = fit.get("backtest", {})
        keys = ("mae", "mae_smooth", "mae_last_value", "mae_chance")
        backtest = {f"backtest_{k}": bt[k] for k in keys if bt.get(k) is not None}
        line = fit_line(fit["law"], fit["x"], fit["params"], {k: tuple(v) for k, v in fit["ci"].items()},
                        fit["r2"], ok=fit["ok"], message=fit["message"], backtest=backtest, holdout=2,
                        r2_space=fit["r2_space"], unidentified=fit["unidentified"], fixed=fit["fixed"],
                        r2_spaces={"linear": fit["r2_linear"], "log": fit["r2_log"]},
                        backtest_space=bt["error_space"], backtest_fit=bt["fit"]["summary"],
                        backtest_miss=bt["smooth_miss"])  # fmt: skip
        assert f"fit {fit['metric']}: {' '.join(line.split())}" in flat


def test_subsample_shrinks_n_and_widens_intervals(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["report", "--format", "json", "--metric", "token_edit_distance", *FAST]
    full = json.loads(run(capsys, *args)[1])["points"]
    small = json.loads(run(capsys, *args, "--subsample", "50")[1])["points"]
    assert {p["n"] for p in full} == {1000}
    assert {p["n"] for p in small} == {50}
    width = lambda points: np.mean([p["hi"] - p["lo"] for p in points])  # noqa: E731
    assert width(small) > 2 * width(full)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["report", "/nonexistent/results.csv"], "/nonexistent/results.csv"),
        (["report", "--bootstrap", "-1"], "--bootstrap"),
        (["report", "--bootstrap", "200000"], "100000"),  # the app's cap holds for the CLI too
        (["report", "--ci", "95"], "--ci"),
        (["report", "--map", "size=nonsense"], "nonsense"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1
    assert needle in err
    assert "Traceback" not in err


def test_missing_column_error_names_the_fix(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    path.write_text("size,task,metric,value\n1e6,t,acc,0.5\n")
    before = file_digest(path)
    code, _, err = run(capsys, "report", str(path))
    assert code == 2
    assert str(path) in err and "model" in err
    assert file_digest(path) == before


def test_simulate_writes_rows_that_report_reads_and_never_overwrites(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "sim.parquet"
    argv = ["simulate", "--params", "1e7,1e8,1e9,1e10", "--items", "200", "--length", "5", "--out", str(out)]
    code, stdout, _ = run(capsys, *argv)
    assert code == 0 and out.exists()
    assert "wrote 1600 rows" in stdout  # 4 sizes x 2 tasks x 200 items
    code, _, err = run(capsys, *argv)
    assert code == 2 and "already exists" in err
    code, report, _ = run(capsys, "report", str(out), "--format", "json", *FAST)
    assert code == 0
    tasks = {p["task"] for p in json.loads(report)["points"]}
    assert tasks == {"generation", "choice"}


@needs_shared_data
def test_chinchilla_loss_table_fits_the_joint_law_with_y_loss(capsys: pytest.CaptureFixture[str]) -> None:
    """Besiroglu et al. (2024) refit Hoffmann et al.: E about 1.82, alpha 0.35, beta 0.37 (on 240 points)."""
    path = SHARED_DATA / "chinchilla" / "tidy.csv"
    code, out, err = run(capsys, "report", str(path), "--format-in", "wide", "--map", "point_id=model",
                         "--map", "params_N=params", "--map", "tokens_D=tokens", "--map", "flops_C=flops",
                         "--map", "epoch_excluded_outlier=ignore", "--y", "loss", "--law", "joint",
                         "--format", "json", *FAST)  # fmt: skip
    assert code == 0, err
    (fit,) = json.loads(out)["fits"]
    assert fit["law"] == "joint" and fit["ok"]
    assert fit["params"]["E"] == pytest.approx(1.85, abs=0.1)  # 245 points, outliers kept
    assert fit["params"]["alpha"] == pytest.approx(0.35, abs=0.05)
    assert fit["params"]["beta"] == pytest.approx(0.4, abs=0.1)


def test_metric_filter_computes_only_the_metric_and_its_partners(capsys: pytest.CaptureFixture[str]) -> None:
    """`--metric exact_match` skips the choice metrics but keeps the mirage partners, so the exact-match
    points and verdicts are those of the unfiltered report."""
    _, full_out, _ = run(capsys, "report", "--format", "json", *FAST)
    code, out, err = run(capsys, "report", "--format", "json", "--metric", "exact_match", *FAST)
    assert code == 0, err
    full, filtered = json.loads(full_out), json.loads(out)
    assert {s["metric"]: s["reason"] for s in filtered["skipped_metrics"]} == {
        m: "not requested (--metric)" for m in ("mc_grade", "choice_prob", "brier")
    }

    def exact(report: dict, key: str) -> list[dict]:
        rows = [r for r in report[key] if r["metric"] == "exact_match"]
        return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True))

    assert exact(filtered, "verdicts") and exact(filtered, "points")
    for key in ("points", "verdicts", "emergence"):
        for ours, theirs in zip(exact(filtered, key), exact(full, key), strict=True):
            assert ours.keys() == theirs.keys()
            for name, value in ours.items():
                if name == "p_adjusted" or (name in ("sentence", "verdict") and "p_adj" in value):
                    continue  # the FDR family is what was scanned: with --metric, fewer triplets
                assert value == (
                    pytest.approx(theirs[name], rel=1e-9) if isinstance(value, float) else theirs[name]
                )
    assert any("the triplets computed in this run" in note for note in filtered["notes"])


def test_resample_unit_seed_resamples_the_replicates_of_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = ["family,model,task,params,item,seed,token_loss"]
    rng = np.random.default_rng(0)
    for model, params in (("small", 1e8), ("big", 1e9)):
        for seed in (1, 2, 3, 4):
            luck = rng.normal(0, 0.3)
            rows += [
                f"f,{model},t,{params},i{i},{seed},{2 + luck + rng.normal(0, 0.1):.4f}" for i in range(40)
            ]
    path = tmp_path / "seeds.csv"
    path.write_text("\n".join(rows) + "\n")
    args = ["report", str(path), "--map", "seed=replicate", "--format", "json", *FAST]
    item = {p["model"]: p for p in json.loads(run(capsys, *args)[1])["points"]}
    seed = {p["model"]: p for p in json.loads(run(capsys, *args, "--resample-unit", "seed")[1])["points"]}
    for model in ("small", "big"):
        assert item[model]["unit"] == "item" and seed[model]["unit"] == "seed"
        assert item[model]["n_replicates"] == seed[model]["n_replicates"] == 4 and seed[model]["n"] == 40
        assert seed[model]["hi"] - seed[model]["lo"] > 3 * (item[model]["hi"] - item[model]["lo"])
    with pytest.raises(SystemExit) as refused:
        main(["report", str(path), "--resample-unit", "epoch"])
    assert refused.value.code == 2 and "--resample-unit" in capsys.readouterr().err


def test_report_has_steps_tie_groups_and_items_per_point(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "report", "--format", "json", "--task", "long_answer", *FAST)
    assert code == 0
    report = json.loads(out)
    em = [p for p in report["points"] if p["metric"] == "exact_match"]
    assert all("items_to_resolve" in p for p in em) and any(p["items_to_resolve"] for p in em)
    steps = [s for s in report["steps"] if s["metric"] == "exact_match"]
    assert len(steps) == len(em) - 1 and {s["test"] for s in steps} == {"McNemar exact"}
    assert {s["test"] for s in report["steps"] if s["metric"] == "token_edit_distance"} == {
        "paired bootstrap"
    }
    groups = {g["metric"]: g for g in report["tie_groups"]}
    assert groups["exact_match"]["n_groups"] == 1 + sum(bool(s["resolved"]) for s in steps)
    assert any(note.startswith("steps (each model against the next-larger") for note in report["notes"])
    _, table, _ = run(capsys, "report", "--task", "long_answer", *FAST)
    assert max(len(line) for line in table.splitlines()) <= 80
    assert "    steps (McNemar exact; items to resolve at 80% power):" in table.splitlines()
    assert any(line.startswith("    tie groups: ") for line in table.splitlines())


SWEEP = ["--sweep-sizes", "50,200", "--sweep-repeats", "2", "--sweep-bootstrap", "50"]


def test_resolution_sweep_in_the_table_and_the_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "report", "--format", "json", "--task", "long_answer", *FAST, *SWEEP)
    assert code == 0, err
    sweep = json.loads(out)["resolution_sweep"]
    assert (sweep["sizes"], sweep["repeats"], sweep["bootstrap"], sweep["full_n"]) == (
        [50, 200, 1000],
        2,
        50,
        1000,
    )
    summary = {row["metric"]: row for row in sweep["summary"]}
    assert summary["exact_match"]["sentence"].startswith("exact_match: ")
    assert {row["n_items"] for row in sweep["curves"]} == {50, 200, 1000}
    assert {row["runs"] for row in sweep["curves"] if row["n_items"] < 1000} == {2}
    assert {"model", "n_items", "value", "lo", "hi", "resolved_share"} <= sweep["models"][0].keys()
    code, table, _ = run(capsys, "report", "--task", "long_answer", *FAST, "--resolution-sweep", *SWEEP[2:])
    lines = table.splitlines()
    assert code == 0 and max(len(line) for line in lines) <= 80
    assert any(line.startswith("  resolution sweep (2 seeded subsamples per n' below 1000") for line in lines)
    assert any(line.startswith("    exact_match: ") for line in lines)


@pytest.mark.parametrize(
    "args,message",
    [(["--sweep-sizes", "50,x"], "--sweep-sizes: expected a count"),
     (["--sweep-repeats", "0"], "--sweep-repeats"),
     (["--resolution-sweep", "--sweep-bootstrap", "-1"], "--sweep-bootstrap")],
)  # fmt: skip
def test_bad_sweep_options_end_with_one_line(capsys: pytest.CaptureFixture[str], args, message) -> None:
    code, out, err = run(capsys, "report", *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err

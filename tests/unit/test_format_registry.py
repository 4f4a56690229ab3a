"""The reader registry: every reader is offered to --format-in, and each format's files reach its reader."""

from __future__ import annotations

from analysis.formats import registry
from tui.cli import build_parser


def test_format_in_choices_are_the_registered_readers() -> None:
    action = next(a for a in build_parser(None)._actions if a.dest == "format_in")
    assert sorted(action.choices) == sorted(registry.READER_NAMES)
    report = next(a for a in build_parser("report")._actions if a.dest == "format")
    assert "eee" in report.choices


def test_each_format_reaches_its_reader(tmp_path) -> None:
    import json
    import zipfile

    eval_log = tmp_path / "log.eval"
    with zipfile.ZipFile(eval_log, "w") as archive:
        archive.writestr("header.json", "{}")
    inspect_log = {"version": 2, "status": "success", "eval": {"model": "m"}}
    (tmp_path / "log.json").write_text(json.dumps(inspect_log))
    eee_log = {"schema_version": "0.3.0", "model_info": {"id": "m"}, "evaluation_results": []}
    (tmp_path / "uuid.json").write_text(json.dumps(eee_log))
    (tmp_path / "points.jsonl").write_text(json.dumps(eee_log) + "\n")
    (tmp_path / "details_t|0_2025-01-01T00-00-00.000001.parquet").write_bytes(b"PAR1")
    lm_eval_results = {"results": {"t": {"acc,none": 1}}}
    (tmp_path / "results_2025-01-01T00-00-00.json").write_text(json.dumps(lm_eval_results))
    (tmp_path / "table.csv").write_text("model,task,metric,value\nm,t,acc,1\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "run_spec.json").write_text("{}")
    expected = {
        "log.eval": "inspect",
        "log.json": "inspect",
        "uuid.json": "eee",
        "points.jsonl": "eee",
        "details_t|0_2025-01-01T00-00-00.000001.parquet": "lighteval",
        "results_2025-01-01T00-00-00.json": "lm_eval",
        "table.csv": "tidy",
    }
    found = {name: registry.reader_for(tmp_path / name).NAME for name in expected}
    assert found == expected
    assert registry.directory_reader(run).NAME == "helm"

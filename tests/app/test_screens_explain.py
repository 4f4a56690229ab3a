"""Pilot tests of issue 17: honest 0/1 intervals, refused toggles that say why, the status line at 80x24,
filter, sort and names, help, table keys and start options; at 80x24 and 120x40."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Static

from tests.app.conftest import make_app
from tests.app.steps import settle, shown_intervals
from tests.app.test_real_pipeline import open_generation_exact_match, real_app
from tui.app import EmergenceApp
from tui.screens.lab import LabScreen
from tui.widgets.plot import PlotWidget, legend_text, render_plot

SIZES = [(80, 24), (120, 40)]


def status_of(app: EmergenceApp) -> str:
    return str(app.screen.query_one("#status", Static).render())


@pytest.mark.parametrize("size", SIZES)
async def test_zero_of_n_shows_its_exact_interval_in_the_table_and_the_log_plot(
    size: tuple[int, int],
) -> None:
    app = real_app()
    async with app.run_test(size=size) as pilot:
        task = await open_generation_exact_match(app, pilot)
        assert shown_intervals(app)[:4] == ["[0, 0.00368]"] * 4  # 0 of 1000: Clopper-Pearson, not [0, 0]
        await pilot.press("y")
        plot = task.query_one(PlotWidget)
        assert plot.spec.usable_log_y() and plot.spec.upper_limits()
        drawn = render_plot(plot.spec, 70, 16, colour=False)
        assert drawn.count("↓") == 4  # the four 0-of-1000 models: arrows at their interval's top
        assert "↓ 0: below its CI's top" in legend_text(plot.spec, 200).plain
        assert "log-y" in status_of(app) and "lin-y" not in status_of(app)


@pytest.mark.parametrize("size", SIZES)
async def test_log_y_refused_says_why_and_the_status_does_not_claim_it(size: tuple[int, int]) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("L")
        assert isinstance(app.screen, LabScreen)
        right = app.screen.query_one("#lab-right", PlotWidget)
        assert [s.label for s in right.spec.series] == ["p"]  # one quantity on its own axis
        await pilot.press("v")  # the next: minus the edit distance, below 0
        assert [s.label for s in right.spec.series] == ["neg_token_edit_distance"]
        await pilot.press("y")
        await pilot.pause()
        assert right.spec.log_y_refusal().startswith("log-y off: neg_")
        assert not right.spec.usable_log_y()
        assert "lin-y" in status_of(app) and " log-y" not in status_of(app)
        assert any("stays linear" in str(n.message) for n in app._notifications)
        assert legend_text(right.spec, 200).plain.startswith("log-y off")


async def test_80x24_status_shows_ready_n_prime_and_paired_and_footer_the_main_keys() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        shown = app.export_screenshot().replace("&#160;", " ")
        status = status_of(app)
        assert status.startswith("ready  x=params  law=auto  n'=all paired  B=200 95% seed=0")
        pairs = (
            ("enter", "Open"),
            ("s", "Sort"),
            ("/", "Filter"),
            ("?", "Help"),
            ("q", "Quit"),
            ("n", "Metric"),
        )
        for key, word in pairs:
            assert word in shown, f"footer lost {key} {word}"
        await pilot.press("enter")
        await settle(app, pilot)
        shown = app.export_screenshot()
        assert "Back" in shown and "Mirage" in shown and "Open" not in shown  # nothing to open in the points


async def test_60x16_task_view_keeps_plot_rows_and_three_table_rows() -> None:
    app = make_app()
    async with app.run_test(size=(60, 16)) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        table = app.screen.query_one("#points")
        plot = app.screen.query_one(PlotWidget)
        assert table.size.height >= 4 and plot.size.height >= 6  # header + 3 rows; a plot with data rows
        assert "plot area too small" not in str(plot.render())


async def test_40x12_too_small_notice_hides_the_stale_screen_below() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.resize_terminal(40, 12)
        await pilot.pause()
        shown = app.export_screenshot().replace("&#160;", " ")
        assert "terminal too small" in shown
        assert "arith" not in shown and "ready" not in shown  # nothing of the overview shows through


def notices(app: EmergenceApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


@pytest.mark.parametrize("size", SIZES)
async def test_x_with_only_params_and_joint_without_tokens_say_why(size: tuple[int, int]) -> None:
    app = real_app()  # the sample data: sizes in params only
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("x")
        assert app.settings.axis == "params"
        assert any(n.startswith("only params in this data") for n in notices(app))
        await pilot.press("l", "l", "l", "l")  # power, saturating, logistic, then joint: skipped
        assert app.settings.law is None
        assert any("joint law skipped" in n and "tokens" in n for n in notices(app))


@pytest.mark.parametrize("size", SIZES)
async def test_a_failed_open_keeps_the_loaded_data(size: tuple[int, int]) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        before = app.analysis
        app.open_paths(["data/bad.csv"])  # what o + Enter does on a file that cannot be read
        await settle(app, pilot)
        assert app.analysis is before and app.paths == ["results.csv"]
        assert "data/bad.csv" in app.error and "stays on screen" in app.error
        assert app.screen.query_one(DataTable).row_count == 4
        assert "data/bad.csv" in str(app.screen.query_one("#message", Static).render())


def column_cells(app: EmergenceApp, key: str) -> list[str]:
    table = app.screen.query_one(DataTable)
    return [str(cell) for cell in table.get_column(key)]


@pytest.mark.parametrize("size", SIZES)
async def test_filter_matches_only_the_text_shown(size: tuple[int, int]) -> None:
    app = real_app()  # the sample family is toy-lm: /mirage finds the mirage verdicts, not every row
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        total = app.screen.rows.height
        await pilot.press("slash", *"mirage")
        words = app.screen.rows["word"].to_list()
        assert 0 < len(words) < total and all(w.startswith("mirage") for w in words)
        await pilot.press("escape", "slash", *"cont")  # the kind column shows cont and disc
        assert set(column_cells(app, "kind")) == {"cont"}
        await pilot.press("escape", "slash", *"follows")  # a word of the verdict sentences, not shown
        assert app.screen.rows.height == 0


@pytest.mark.parametrize("size", SIZES)
async def test_sort_by_the_column_under_the_cursor_reverse_and_header_mark(size: tuple[int, int]) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(DataTable)
        assert str(table.columns["task"].label) == "task ▲"
        await pilot.press("s")  # the cursor is on the task column: reversed
        assert column_cells(app, "task") == ["mc", "mc", "arith", "arith"]
        assert str(table.columns["task"].label) == "task ▼"
        await pilot.press("right", "s")  # the metric column
        assert app.screen.sort_key == "metric" and str(table.columns["task"].label) == "task"
        assert column_cells(app, "metric") == ["edit_distance"] * 2 + ["exact_match"] * 2
        assert str(table.columns["metric"].label) == "metric ▲"


LONG = ("pythia-1.4b-deduped-v0-step143000", "pythia-1.4b-deduped-v1-step143000")


@pytest.mark.parametrize("size", SIZES)
async def test_long_family_names_are_cut_in_the_middle_and_shown_in_full_under_the_table(
    size: tuple[int, int],
) -> None:
    app = make_app(families=LONG)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        shown = column_cells(app, "family")
        assert len(set(shown)) == 2  # the two families never read the same
        if size[0] == 80:
            assert all("…" in name and name.endswith("step143000"[-3:]) for name in shown)
        else:
            assert set(shown) == set(LONG)  # room enough: in full
        detail = str(app.screen.query_one("#detail", Static).render())
        assert app.screen.rows["family"][0] in detail  # the full name of the row under the cursor


@pytest.mark.parametrize("size", SIZES)
async def test_help_explains_the_words_and_lists_every_key_of_the_mirage_view(size: tuple[int, int]) -> None:
    from tui.screens.dialogs import HelpScreen

    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("enter", "m")
        await settle(app, pilot)
        await pilot.press("question_mark")
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        keys = dict(help_screen.rows)
        assert keys["c"].startswith("next discontinuous/continuous pair") and keys["C"] == "previous pair"
        assert keys["q"] == "close this screen (quit from the overview)"
        words = {word: meaning for word, meaning, _ in help_screen.words}
        assert {"mirage", "disc / cont", "miss", "p adj", "score", "pair i/k", "↓"} <= set(words)
        assert "Benjamini-Hochberg" in words["p adj"] and "breakthroughness" in words["score"]
        shown = app.export_screenshot().replace("&#160;", " ")
        assert "What the words mean" in shown or size[1] < 40  # below the keys: scrolled to at 80x24
        await pilot.press("end")
        glossary = help_screen.query_one("#glossary", Static)
        assert glossary.region.height >= len(help_screen.words)


@pytest.mark.parametrize("size", SIZES)
async def test_palette_offers_the_screens_keys_and_one_quit(size: tuple[int, int]) -> None:
    from textual.command import CommandPalette

    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        await pilot.press(*"mirage check")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(app, pilot)
        from tui.screens.mirage import MirageScreen

        assert isinstance(app.screen, MirageScreen)
        from tui.commands import SettingsCommands

        provider = SettingsCommands(app.screen)
        names = [name for name, _, _ in provider._commands()]
        assert names[:3] == ["Back to the task view", "Next pair", "Previous pair"]
        assert "Quit" not in names and len(names) == len(set(names))


@pytest.mark.parametrize("size", SIZES)
async def test_table_keys_j_k_g_G_home_end_and_copy(size: tuple[int, int]) -> None:
    app = make_app()
    copied: list[str] = []
    app.copy_to_clipboard = copied.append  # type: ignore[method-assign]  # OSC 52 goes to the terminal
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(DataTable)
        await pilot.press("j", "j")
        assert table.cursor_row == 2
        await pilot.press("k")
        assert table.cursor_row == 1
        await pilot.press("G")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("g")
        assert table.cursor_row == 0
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1
        await pilot.press("home", "c")
        assert copied == [app.screen.rows["task"][0]]
        await pilot.press("C")
        assert copied[-1].split("\t")[:2] == [app.screen.rows["task"][0], app.screen.rows["metric"][0]]
        await pilot.press("enter")  # the task view's points table: copy the interval under the cursor
        await settle(app, pilot)
        await pilot.press("right", "right", "right", "right", "c")
        assert copied[-1] == shown_intervals(app)[0]


@pytest.mark.parametrize("size", SIZES)
async def test_q_closes_screens_and_quits_only_from_the_overview(size: tuple[int, int]) -> None:
    from tui.screens.overview import OverviewScreen
    from tui.screens.task import TaskScreen

    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("enter", "m")
        await settle(app, pilot)
        await pilot.press("q")
        assert isinstance(app.screen, TaskScreen)
        await pilot.press("q")
        assert isinstance(app.screen, OverviewScreen) and app.settings.metric is None
        assert app.is_running
        await pilot.press("q")
    assert app.return_code == 0


@pytest.mark.parametrize("size", SIZES)
async def test_numbers_are_marked_stale_while_a_recompute_runs(size: tuple[int, int]) -> None:
    import threading

    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        gate = threading.Event()
        app.backend.gate = gate  # the next load waits
        app.open_paths(["other.csv"])
        await pilot.pause()
        assert status_of(app).startswith("stale reading 1/4")
        assert app.screen.has_class("-stale") and app.screen.query_one(DataTable).row_count == 4
        gate.set()
        await settle(app, pilot)
        assert status_of(app).startswith("ready") and not app.screen.has_class("-stale")


START = [
    "--bootstrap",
    "0",
    "--x",
    "tokens",
    "--law",
    "power",
    "--ci",
    "0.9",
    "--seed",
    "3",
    "--subsample",
    "50",
]


def test_the_app_takes_the_reports_resampling_and_fit_options() -> None:
    from analysis.options import ResampleSettings
    from tui.cli import build_parser, view_settings_from
    from tui.state import ViewSettings

    settings = view_settings_from(build_parser(None).parse_args(["results/", *START]))
    assert settings == ViewSettings(
        axis="tokens", law="power", resample=ResampleSettings(bootstrap=0, ci=0.9, seed=3, subsample=50)
    )


@pytest.mark.parametrize(
    ("args", "named"),
    [(["--bootstrap", "-1"], "--bootstrap"), (["--ci", "95"], "--ci"), (["--subsample", "0"], "")],
)
def test_a_bad_start_option_is_one_line_and_exit_2(capsys, args: list[str], named: str) -> None:
    from tui.cli import main

    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("emergence-tui: ") and named in err


@pytest.mark.parametrize("size", SIZES)
async def test_the_app_opens_in_the_mode_the_command_line_asked_for(size: tuple[int, int]) -> None:
    from tests.app.fakes import FakeBackend
    from tui.cli import build_parser, view_settings_from

    settings = view_settings_from(build_parser(None).parse_args(START))
    app = EmergenceApp(["results.csv"], backend=FakeBackend(), settings=settings)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        assert app.backend.pipelines[0].runs[0][0].bootstrap == 0  # the cheap mode computed first
        assert status_of(app).startswith("ready  x=tokens  law=power  n'=50 paired  B=off 90% seed=3")


@pytest.mark.parametrize("size", SIZES)
async def test_keys_with_nothing_to_step_to_say_so(size: tuple[int, int]) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("enter", "m")  # arith: one pair (exact_match beside edit_distance)
        await settle(app, pilot)
        await pilot.press("c")
        assert any("one discontinuous/continuous pair" in n for n in notices(app))


@pytest.mark.parametrize("size", SIZES)
async def test_task_view_names_and_legend_keep_families_apart(size: tuple[int, int]) -> None:
    app = make_app(families=LONG)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        await pilot.press("down", "down", "enter")  # arith · exact_match: both families have a fit
        await settle(app, pilot)
        assert app.screen.metric_name == "exact_match"
        table = app.screen.query_one("#points", DataTable)
        shown = {str(table.get_row_at(i)[0]) for i in range(table.row_count)}
        assert len(shown) == 2  # the two families read differently in the table
        plot = app.screen.query_one(PlotWidget)
        legend = legend_text(plot.spec, 200).plain
        assert legend.startswith("●⠒ ") and "■⠒ " in legend and "⠒ fitted law" in legend  # one entry a family


async def test_while_computing_80_columns_show_the_stage_axis_law_n_prime_and_paired() -> None:
    import threading

    gate = threading.Event()
    app = make_app(gate=gate, gate_timeout=30.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("y", "l", "l")  # log-y and the saturating law, the longest word, while reading
        app.compute.busy_since -= 100  # a long computation: the seconds counter shows too
        app.compute.tick()
        await pilot.pause()
        status = status_of(app)
        assert (
            status.startswith("reading 1/4… ⏱10")
            and "x=params log-y  law=saturating  n'=all paired" in status
        )
        widget = app.screen.query_one("#status")
        shown = widget.line()
        end = shown.plain.index("paired") + len("paired")
        assert shown[:end].cell_len <= widget.content_region.width == 78  # not cut by the 80 columns
        gate.set()
        await settle(app, pilot)

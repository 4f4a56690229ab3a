"""Modal screens: help, the resampling panel, pickers, export with overwrite confirmation, "too small"."""

from __future__ import annotations

import glob
import shlex
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from analysis.options import ResampleSettings
from tui.bindings import bindings
from tui.safe_text import literal

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 70; max-width: 95%; height: auto; max-height: 95%; border: thick $primary;
    background: $surface; padding: 0 1; }}
{name} Input {{ width: 1fr; }}
{name} Horizontal {{ height: auto; }}
{name} Label {{ width: 22; padding: 1 0 0 0; }}
{name} #error {{ color: $error; height: auto; }}
"""


class HelpScreen(ModalScreen[None]):
    """Every key of the app and of the screen underneath, from their binding tables."""

    DEFAULT_CSS = DIALOG_CSS.format(name="HelpScreen") + "HelpScreen > Vertical { width: 80; height: 90%; }"
    BINDINGS: ClassVar[list[BindingType]] = bindings("help")

    def __init__(self, rows: list[tuple[str, str]], words: tuple[tuple[str, str, str], ...] = ()) -> None:
        super().__init__()
        self.rows = rows
        if not words:
            from tui.glossary import GLOSSARY

            words = GLOSSARY
        self.words = words

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=True, header_style="bold", expand=True)
        table.add_column("key", style="bold cyan", no_wrap=True)
        table.add_column("what it does")
        for key, description in self.rows:
            table.add_row(Text(key), Text(description))
        glossary = Table(box=None, show_header=True, header_style="bold", expand=True)
        glossary.add_column("word", style="bold yellow", no_wrap=True)
        glossary.add_column("what it means (docs/science.md section)")
        for word, meaning, section in self.words:
            glossary.add_row(Text(word), Text(meaning + (f" (§{section})" if section else "")))
        with Vertical():
            yield Static(
                Text("emergence-tui — keys, then words (Esc closes; ctrl+p: command palette)", style="bold")
            )
            with VerticalScroll():
                yield Static(table)
                yield Static(Text("\nWhat the words mean", style="bold"))
                yield Static(glossary, id="glossary")

    def action_close(self) -> None:
        self.dismiss(None)


class ResamplePanel(ModalScreen[ResampleSettings | None]):
    """Edit B, CI level, test-set size n', seed and paired; Enter applies, Esc cancels."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ResamplePanel")
    BINDINGS: ClassVar[list[BindingType]] = bindings("resample")

    def __init__(self, settings: ResampleSettings) -> None:
        super().__init__()
        self.settings = settings

    def compose(self) -> ComposeResult:
        s = self.settings
        with Vertical():
            yield Static(Text("Resampling (Enter applies, Esc cancels)", style="bold"))
            for label, key, value in (
                ("bootstrap B (0 = off)", "bootstrap", str(s.bootstrap)),
                ("CI level (0-1)", "ci", f"{s.ci:g}"),
                ("test-set size n'", "subsample", "" if s.subsample is None else str(s.subsample)),
                ("seed", "seed", str(s.seed)),
            ):
                with Horizontal():
                    yield Label(label)
                    yield Input(value, id=key, placeholder="all items" if key == "subsample" else "")
            yield Checkbox("paired bootstrap (same items for every model)", s.paired, id="paired")
            yield Static("", id="error")
            with Horizontal():
                yield Button("Apply", id="apply", variant="primary")
                yield Button("Cancel", id="cancel")

    def parse(self) -> ResampleSettings:
        """The settings typed in; ValueError with a one-line reason when a field is not valid."""

        def field(name: str) -> str:
            return self.query_one(f"#{name}", Input).value.strip()

        try:
            bootstrap = int(field("bootstrap"))
        except ValueError:
            raise ValueError("B must be a whole number (0 turns the bootstrap off)") from None
        try:
            ci = float(field("ci"))
        except ValueError:
            raise ValueError("CI level must be a number between 0 and 1, e.g. 0.95") from None
        subsample_text = field("subsample")
        try:
            subsample = int(subsample_text) if subsample_text else None
            seed = int(field("seed"))
        except ValueError:
            raise ValueError("n' and seed must be whole numbers (leave n' empty for all items)") from None
        paired = self.query_one("#paired", Checkbox).value
        return replace(  # the settings validate their values: an InputError is a ValueError
            self.settings, bootstrap=bootstrap, ci=ci, subsample=subsample, seed=seed, paired=paired
        )

    def apply(self) -> None:
        try:
            settings = self.parse()
        except ValueError as err:
            self.query_one("#error", Static).update(Text(str(err)))
            return
        self.dismiss(settings)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.apply()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self.apply()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PickerScreen(ModalScreen[str | None]):
    """Pick one value from a list (a metric, a family); Enter picks, Esc cancels."""

    DEFAULT_CSS = (
        DIALOG_CSS.format(name="PickerScreen") + "PickerScreen OptionList { height: auto; max-height: 16; }"
    )
    BINDINGS: ClassVar[list[BindingType]] = bindings("picker")
    ALL = "\x00all"  # option id standing for "no filter"

    def __init__(self, title: str, choices: list[str | None], current: str | None) -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.current = current

    def compose(self) -> ComposeResult:
        options = [
            Option(
                Text("(all)", style="italic") if c is None else literal(c), id=self.ALL if c is None else c
            )
            for c in self.choices
        ]
        with Vertical():
            yield Static(Text(self.title_text, style="bold"))
            yield OptionList(*options, id="choices")

    def on_mount(self) -> None:
        option_list = self.query_one(OptionList)
        if self.current in self.choices:
            option_list.highlighted = self.choices.index(self.current)
        option_list.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        chosen = event.option.id
        self.dismiss(None if chosen == self.ALL else chosen)

    def action_cancel(self) -> None:
        self.dismiss(self.current)


class ExportDialog(ModalScreen[tuple[str, str, str] | None]):
    """Ask where to write the table (CSV), the plot (text) and the figure (SVG); an empty path skips it.

    The figure's path starts empty (a figure takes a second to draw): type a name to write one.
    """

    DEFAULT_CSS = DIALOG_CSS.format(name="ExportDialog")
    BINDINGS: ClassVar[list[BindingType]] = bindings("export")

    def __init__(self, table_path: str, plot_path: str | None, svg_path: str | None = None) -> None:
        super().__init__()
        self.table_path = table_path
        self.plot_path = plot_path
        self.svg_path = svg_path

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                Text(
                    "Export (Enter writes, Esc cancels; nothing is overwritten without asking)", style="bold"
                )
            )
            with Horizontal():
                yield Label("table as CSV")
                yield Input(self.table_path, id="table_path")
            if self.plot_path is not None:
                with Horizontal():
                    yield Label("plot as text")
                    yield Input(self.plot_path, id="plot_path")
            if self.svg_path is not None:
                with Horizontal():
                    yield Label("SVG: type a name")
                    yield Input("", placeholder=self.svg_path, id="svg_path")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        table = self.query_one("#table_path", Input).value.strip()
        plot = self.query_one("#plot_path", Input).value.strip() if self.plot_path is not None else ""
        svg = self.query_one("#svg_path", Input).value.strip() if self.svg_path is not None else ""
        self.dismiss((table, plot, svg))

    def action_cancel(self) -> None:
        self.dismiss(None)


def parse_paths(text: str) -> list[str]:
    """Paths typed by the user (shell-style quoting for spaces); ValueError naming the first one not found."""
    try:
        words = shlex.split(text)
    except ValueError as err:
        raise ValueError(f"cannot read the paths: {err}") from None
    if not words:
        raise ValueError("type a file, folder or glob")
    paths = []
    for word in words:
        path = Path(word).expanduser()
        if not path.exists() and not glob.glob(str(path)):
            raise ValueError(f"{word}: no such file or folder")
        paths.append(str(path))
    return paths


class OpenDialog(ModalScreen[list[str] | None]):
    """Open other result files (space-separated; quote names with spaces); Enter opens, Esc cancels.

    The load options given on the command line (mapping, format, sizes) apply to the new paths too.
    """

    DEFAULT_CSS = DIALOG_CSS.format(name="OpenDialog") + "OpenDialog Label { width: 8; }"
    BINDINGS: ClassVar[list[BindingType]] = bindings("open")

    def __init__(self, current: Sequence[str] = ()) -> None:
        super().__init__()
        self.current = " ".join(shlex.quote(p) for p in current)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("Open results (Enter opens, Esc cancels)", style="bold"))
            with Horizontal():
                yield Label("path(s)")
                yield Input(
                    self.current, id="open_path", placeholder="results.csv  or  a folder  or  'a b/*.jsonl'"
                )
            yield Static("", id="error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            paths = parse_paths(event.value)
        except ValueError as err:
            self.query_one("#error", Static).update(literal(str(err)))
            return
        self.dismiss(paths)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: y or Enter says yes, n or Esc says no."""

    DEFAULT_CSS = DIALOG_CSS.format(name="ConfirmScreen")
    BINDINGS: ClassVar[list[BindingType]] = bindings("confirm")

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(literal(self.question))
            yield Static(Text("y = yes, n = no", style="dim"))

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class TooSmallScreen(ModalScreen[None]):
    """Shown instead of the app when the terminal is below the minimum size; q still quits."""

    DEFAULT_CSS = (  # opaque: nothing of the screen below (laid out for a bigger terminal) shows through
        "TooSmallScreen { align: center middle; background: $background; } "
        "TooSmallScreen Static { width: auto; }"
    )
    BINDINGS: ClassVar[list[BindingType]] = bindings("too_small")

    def __init__(self, minimum: tuple[int, int]) -> None:
        super().__init__()
        self.minimum = minimum

    def on_mount(self) -> None:
        # ctrl+p is an app-level priority binding: over this notice it would open a second command palette
        # under the same id when one is already open below (DuplicateIds, found by the random-key session)
        self.app.use_command_palette = False

    def on_unmount(self) -> None:
        self.app.use_command_palette = self.app.ENABLE_COMMAND_PALETTE

    def compose(self) -> ComposeResult:
        w, h = self.minimum
        yield Static(Text(f"terminal too small\nneeds at least {w}x{h}\n(q quits)", justify="center"))

"""The base of the app's full screens: ``self.app`` typed as the app they run in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

if TYPE_CHECKING:
    from tui.app import EmergenceApp


class AppScreen(Screen[None]):
    """A full screen of emergence-tui; it reads the app's settings and analysis and redraws on request."""

    if TYPE_CHECKING:  # Textual types ``app`` as any App; these screens only ever run in EmergenceApp
        app: EmergenceApp

    def refresh_view(self) -> None:
        """Redraw from the app's current analysis and settings (no computation)."""

"""Widgets of the emergence-tui app."""

"""Widgets of the terminal app: they render from domain models and events."""

"""Podium: run a team of LLM agents on one objective from the terminal."""

__version__ = "0.1.0"

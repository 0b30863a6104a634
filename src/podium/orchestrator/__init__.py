"""Planner, scheduler, consultation, control and review. Never imports Textual."""

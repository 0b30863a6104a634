"""A run's phases, each in its own module; the engine (engine.py) coordinates them.

plan: the specialists' discussion and the leader's plan. execution: the plan's
graph, one agent loop per subtask. synthesis: the leader's final result.
review: the leader's verdict, then the human's (or automatic) decision.
lessons: what goes to long-term memory as the run ends. common: what several
phases share. Each receives an `AgentDeps`, never the engine.
"""

"""The application layer: one place composes a project session, and the use cases front ends call.

Front ends (the CLI, the TUI, the benches) open a `ProjectSession` and call its
use cases; they do not build engines, gateways or tool boxes themselves.
"""

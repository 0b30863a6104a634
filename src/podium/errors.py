"""Errors a user can act on. The CLI prints their message on one line and exits 2."""


class PodiumError(Exception):
    """An error with a message meant for the user, never a traceback."""

    exit_code = 2


class NotAProjectError(PodiumError):
    """The file is not a Podium project (wrong kind, corrupt, or too new)."""


class ReadOnlyError(PodiumError):
    """A change was asked of a project opened read-only (an archive)."""


class NotFoundError(PodiumError):
    """A run, subtask or other record named by the user does not exist."""

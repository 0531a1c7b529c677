"""Exceptions for conditions a user can act on.

Kept free of heavy imports so the command line and the app can catch them without
loading torch. Every error whose message is written for the consultant derives from
:class:`UserError`; the job runners report such errors as ``{kind: "user", message}``
and anything else as an unexpected failure.
"""


class UserError(Exception):
    """A failure the user can act on; its message says what is wrong and what to do."""


class EngineError(UserError, RuntimeError):
    """A user-actionable failure inside an engine (a sample it cannot measure...)."""

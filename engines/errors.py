"""Exceptions the engines raise for conditions a user can act on.

Kept free of heavy imports so the command line and the app can catch them without
loading torch.
"""


class EngineError(RuntimeError):
    """A user-actionable failure; its message says what is wrong and what to do."""

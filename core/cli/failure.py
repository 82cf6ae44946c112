"""How a command ends with a message: raise CommandError; core/cli/main.py prints it once, as
"layerscope COMMAND: MESSAGE" on stderr, and exits with its code."""
from __future__ import annotations

from core import exit_codes
from core.errors import LayerscopeError


class CommandError(LayerscopeError):
    """The command cannot go on: `code` is the exit status (core.exit_codes; USAGE unless said otherwise)."""

    def __init__(self, message: str, code: int = exit_codes.USAGE):
        super().__init__(message)
        self.code = code

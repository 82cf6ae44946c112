"""What can go wrong with familiarity, by kind: each message names the file or value and what to do."""
from __future__ import annotations

from core.errors import LayerscopeError


class FamiliarityError(LayerscopeError):
    """Familiarity cannot be computed as asked; the message says why."""


class BankError(FamiliarityError):
    """A feature-bank or feature file is damaged, edited or not one of ours: it is refused, never used."""


class StaleBankError(BankError):
    """A well-formed file made for other weights (another checkpoint, or this one before it was overwritten)."""

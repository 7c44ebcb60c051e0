"""User-facing errors: one clear line naming the file or value and the problem."""

from __future__ import annotations

__all__ = ["WeightnetError"]


class WeightnetError(Exception):
    """Bad input from the user (a file, a zoo, a name). The CLI prints it as one line."""

"""One error type for bad input, and the CLI wrapper that turns it into one line and exit code 1."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable


class UserError(ValueError):
    """Bad user input: a file (the message names it and, where there is one, the row and column) or an
    argument (named in place of the file)."""

    def __init__(self, path: str, message: str, *, row: int | None = None, column: str | None = None):
        where = [str(path)]
        if row is not None:
            # row: 1-based data row; the header is line 1, so it sits on line row + 1.
            where.append(f"row {row} (line {row + 1})")
        if column is not None:
            where.append(f"column {column}")
        super().__init__(f"{': '.join(where)}: {message}")


def exits_on_bad_input(main: Callable[..., int | None]) -> Callable[..., int | None]:
    """Wrap a CLI main(): a UserError prints `error: ...` on stderr and exits 1, with no traceback."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(1)

    return wrapper

"""Format versions: every folder kptune writes says which version of its layout it holds, so that its
owner can migrate an older one and refuse a newer one in one line."""

from __future__ import annotations

from .errors import UserError


def check_readable(where: str, what: str, found: int, current: int) -> None:
    """Refuse a `what` written in a newer format than this kptune reads."""
    if found > current:
        raise UserError(where, f"is {what} of format version {found}, written by a newer kptune (this one reads versions up to "
                               f"{current}): upgrade kptune to read it")

"""Where a new environment may go, the parent folders it needs, and undoing a failed create."""

from __future__ import annotations

import contextlib
import os
import shutil

from .errors import Conflict, InvalidPath


def check_create_target(target: str) -> bool:
    """A new environment may go where nothing is, or into an empty directory; returns
    whether the directory already existed. Missing parent folders are fine (``create``
    makes them; the caller has confined ``target`` to a root)."""
    ancestor = os.path.dirname(target)
    while not os.path.lexists(ancestor) and os.path.dirname(ancestor) != ancestor:
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise InvalidPath(f"{ancestor} is a file, not a folder; choose another location.")
    existed = os.path.lexists(target)
    if existed and (not os.path.isdir(target) or os.listdir(target)):
        raise Conflict(
            f"{target} already exists and is not empty; choose a new name, or register the "
            f"existing environment (`jupyter uvkernel install {target}`, or its Register "
            "kernel action in the panel)."
        )
    return existed


def make_parent_folders(target: str) -> str | None:
    """Make the missing parent folders of ``target`` (``projects/2025/new``); returns the
    topmost folder made, so a failed create can remove exactly that."""
    top = None
    parent = os.path.dirname(target)
    while not os.path.lexists(parent):
        top = parent
        parent = os.path.dirname(parent)
    if top is not None:
        try:
            os.makedirs(os.path.dirname(target), exist_ok=True)
        except OSError as e:
            shutil.rmtree(top, ignore_errors=True)
            raise Conflict(
                f"Cannot create the folder {os.path.dirname(target)}: {e.strerror or e}. "
                f"Choose a location you can write to, or fix the permissions of {parent}."
            ) from None
    return top


def undo_create(target: str, existed: bool, made_parent: str | None = None) -> None:
    """Remove what a failed create made: the whole dir if we made it, else its new contents,
    and the parent folders it made."""
    if made_parent is not None:
        shutil.rmtree(made_parent, ignore_errors=True)
        return
    if not os.path.lexists(target):
        return
    if not existed:
        shutil.rmtree(target, ignore_errors=True)
        return
    for entry in os.listdir(target):
        full = os.path.join(target, entry)
        with contextlib.suppress(OSError):
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
            else:
                os.unlink(full)

"""Checks on what a user types before it reaches the filesystem or uv: paths and packages.

Shared by the CLI and the server. Option-shaped package strings never pass, so nothing a
user types can become a uv option; packages reach uv after ``--``.
"""

from __future__ import annotations

import unicodedata

from packaging.requirements import InvalidRequirement as _BadRequirement
from packaging.requirements import Requirement

from .errors import InvalidPath, InvalidRequirement

MAX_PATH_LENGTH = 4096
MAX_REQUIREMENTS = 100
MAX_REQUIREMENT_LENGTH = 1000


def validate_path_string(value: object, what: str = "path") -> str:
    """Reject values no sane path has before touching the filesystem."""
    if not isinstance(value, str):
        raise InvalidPath(f"{what} must be a string, not {type(value).__name__}.")
    if not value.strip():
        raise InvalidPath(f"{what} is empty; give a directory inside one of the roots.")
    if len(value) > MAX_PATH_LENGTH:
        raise InvalidPath(
            f"{what} is {len(value)} characters long; the limit is {MAX_PATH_LENGTH}."
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidPath(f"{what} contains a NUL or control character; remove it.")
    # Invisible format characters (a BOM, zero-width joiners, bidirectional overrides) make
    # a folder look like another path ("\ufeff/etc/x" reads as /etc/x).
    invisible = next((c for c in value if unicodedata.category(c) == "Cf"), None)
    if invisible is not None:
        raise InvalidPath(
            f"{what} contains the invisible character U+{ord(invisible):04X}; remove it."
        )
    # JSON can carry lone surrogates ("\ud800"), which no filesystem call can encode.
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise InvalidPath(f"{what} contains an unpaired UTF-16 surrogate; send valid UTF-8 text.")
    return value


def parse_requirements(values: object) -> list[str]:
    """PEP 508 requirements, as normalised strings. Option-shaped strings never pass."""
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InvalidRequirement("packages must be a list of PEP 508 requirement strings.")
    if len(values) > MAX_REQUIREMENTS:
        raise InvalidRequirement(f"At most {MAX_REQUIREMENTS} packages per request.")
    out = []
    for raw in values:
        text = raw.strip()
        if not text:
            continue
        if len(text) > MAX_REQUIREMENT_LENGTH:
            raise InvalidRequirement(f"The requirement {text[:40]!r}… is too long.")
        if text.startswith("-"):
            raise InvalidRequirement(
                f"{text!r} looks like a command-line option, not a package; give requirements "
                "such as 'numpy' or 'xarray>=2024.1' (index options belong in uv's config)."
            )
        try:
            req = Requirement(text)
        except _BadRequirement as e:
            raise InvalidRequirement(
                f"{text!r} is not a valid requirement ({e}); use PEP 508 form, e.g. 'numpy>=2'."
            ) from None
        out.append(str(req))
    return out


def parse_package_names(values: object) -> list[str]:
    """Names of installed packages to remove (no versions, no options)."""
    reqs = parse_requirements(values)
    names = []
    for text in reqs:
        req = Requirement(text)
        if req.specifier or req.url or req.marker:
            raise InvalidRequirement(
                f"{text!r}: give only the package name to remove, e.g. {req.name!r}."
            )
        names.append(req.name)
    return names

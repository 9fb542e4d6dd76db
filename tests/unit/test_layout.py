"""The module map in the README is the tree; domain modules stay out of HTTP; files stay small."""

from __future__ import annotations

import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "jupyter_uv_kernels"
README = PACKAGE.parent / "README.md"
#: The only modules that may import tornado (the HTTP layer, and the provisioner's error).
HTTP_MODULES = {"handlers", "handlers_jobs", "handlers_notebooks", "provisioner"}


def modules() -> set[str]:
    return {p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "_version")}


def test_given_the_readme_module_map_then_it_names_exactly_the_modules_in_the_tree() -> None:
    text = README.read_text()
    table = text[text.index("| module | its one job |") :]
    table = table[: table.index("\n\n")]
    named = set()
    for row in table.splitlines()[2:]:
        named |= set(re.findall(r"`([a-z_]+)`", row.split("|")[1]))
    assert named == modules(), (sorted(named - modules()), sorted(modules() - named))


def test_given_a_domain_module_then_it_does_not_import_tornado() -> None:
    offenders = [
        name
        for name in modules() - HTTP_MODULES
        if re.search(r"^\s*(from|import) tornado", (PACKAGE / f"{name}.py").read_text(), re.M)
    ]
    assert offenders == []


def test_given_any_module_then_it_is_under_400_lines_or_says_why() -> None:
    long = []
    for path in PACKAGE.glob("*.py"):
        text = path.read_text()
        if text.count("\n") > 400 and "longer than 400 lines because" not in text:
            long.append((path.name, text.count("\n")))
    assert long == []


#: The launcher's SHA-256 for each LAUNCHER_VERSION. A change to kernel_launcher.py must bump
#: the version (its name in every kernel.json changes, so the reconciler rewrites the copies
#: in spec dirs) and add its digest here.
LAUNCHER_DIGESTS = {
    1: "9f61cc8efffb97021050d1864d4fda23ef5f8c1f94c7c34d2d9a5b76d022f612",
}


def test_given_the_launcher_changed_then_its_version_was_bumped() -> None:
    import hashlib

    from jupyter_uv_kernels.kernel_launcher import LAUNCHER_FILE, LAUNCHER_VERSION

    digest = hashlib.sha256((PACKAGE / "kernel_launcher.py").read_bytes()).hexdigest()
    assert LAUNCHER_DIGESTS.get(LAUNCHER_VERSION) == digest, (
        "kernel_launcher.py changed: bump LAUNCHER_VERSION and add its digest here"
    )
    assert f"_v{LAUNCHER_VERSION}." in LAUNCHER_FILE

"""``jupyter uvkernel notebook …``: a juv notebook edited from a terminal, then read by juv."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.juv_notebooks import juv, juv_block, juv_notebook, lock_versions
from tests.unit.conftest import run_cli


def test_given_a_juv_notebook_when_edited_from_the_cli_then_juv_agrees(tmp_path: Path) -> None:
    root = Path(os.path.realpath(tmp_path))
    nb = juv_notebook(root / "fig.ipynb", "six==1.16.0", lock=True)
    # When a package is added from the CLI
    done = run_cli("notebook", "add", str(nb), "attrs==23.2.0", "--root", str(root))
    assert done.returncode == 0, done.stderr
    assert "attrs==23.2.0  (locked 23.2.0)" in done.stdout
    # Then juv reads it, and its relock changes nothing
    assert '"attrs==23.2.0"' in juv_block(nb)
    before = nb.read_bytes()
    juv("lock", str(nb))
    assert nb.read_bytes() == before
    # show --json is what the REST route answers
    shown = run_cli("notebook", "show", str(nb), "--json", "--root", str(root))
    deps = json.loads(shown.stdout)["dependencies"]
    assert [(d["name"], d["locked_version"]) for d in deps] == [
        ("attrs", "23.2.0"),
        ("six", "1.16.0"),
    ]
    # remove, and the tree shows what is left
    assert run_cli("notebook", "remove", str(nb), "attrs", "--root", str(root)).returncode == 0
    assert lock_versions(nb) == {"six": "1.16.0"}
    tree = run_cli("notebook", "tree", str(nb), "--root", str(root))
    assert tree.stdout.splitlines() == ["[main]", "└── six v1.16.0"]
    # outdated: the pinned six has a newer release (uv asks the index) the pin holds back
    table = run_cli("notebook", "outdated", str(nb), "--root", str(root))
    assert table.returncode == 0, table.stderr
    header, six = table.stdout.splitlines()[:2]
    assert header.split() == ["PACKAGE", "INSTALLED", "LATEST", "ALLOWED", "DIRECT"]
    name, installed, latest, *held = six.split()
    assert (name, installed) == ("six", "1.16.0") and latest not in ("-", "1.16.0")
    assert held == ["(held", "by", "constraints)", "yes"]


def test_bad_input_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    root = Path(os.path.realpath(tmp_path))
    nb = juv_notebook(root / "fig.ipynb", "six")
    before = nb.read_bytes()
    cases = [
        (["add", str(nb), "--index-url=http://evil"], "command-line option"),
        (["remove", str(nb), "numpy"], "not in the notebook's dependencies"),
        (["lock", str(root / "missing.ipynb")], "does not exist"),
        (["show", "/etc/hostname"], "outside the configured roots"),
    ]
    for args, words in cases:
        done = run_cli("notebook", *args, "--root", str(root))
        assert done.returncode == 2, done
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], done.stderr
        assert lines[0].startswith(f"jupyter uvkernel notebook {args[0]}: error:")
    failed = run_cli("notebook", "add", str(nb), "no-such-package-uvk-zz9", "--root", str(root))
    assert failed.returncode == 1 and "no-such-package-uvk-zz9" in failed.stderr
    assert nb.read_bytes() == before
    assert [p.name for p in root.iterdir()] == ["fig.ipynb"]

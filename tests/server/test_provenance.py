"""GET uv-kernels/provenance: what the panel records in a notebook on save."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from jupyter_uv_kernels.kernelspecs import PROJECT_KERNEL_NAME
from tests.conftest import make_project, uv

from .conftest import Api


async def test_given_a_notebook_in_a_repo_project_when_asked_then_the_record_matches_the_files(
    api: Api, jp_root_dir: Path
) -> None:
    project = make_project(jp_root_dir / "repo" / "analysis", "ipykernel")
    subprocess.run(["git", "init", "-q", str(jp_root_dir / "repo")], check=True)
    (project / "nb").mkdir()
    reply = await api.get(
        "provenance",
        params={"path": "repo/analysis/nb/fig.ipynb", "kernel": PROJECT_KERNEL_NAME},
        expect=200,
    )
    record = reply.body["provenance"]
    cfg = (project / ".venv/pyvenv.cfg").read_text()
    assert record == {
        "kernel": PROJECT_KERNEL_NAME,
        "project": "analysis",
        "lock_sha256": hashlib.sha256((project / "uv.lock").read_bytes()).hexdigest(),
        "python": next(
            line.split("=")[1].strip() for line in cfg.splitlines() if "version_info" in line
        ),
        "uv": uv("--version").stdout.split()[1],
    }


async def test_given_a_per_env_kernel_when_asked_then_the_record_is_its_env(
    api: Api, uv_root: Path
) -> None:
    project = make_project(uv_root / "kproj", "ipykernel")
    env = await api.env_at(project, rescan=True)
    record = (
        await api.get("provenance", params={"path": "x.ipynb", "kernel": env["kernel"]}, expect=200)
    ).body["provenance"]
    assert record["kernel"] == env["kernel"]
    assert record["project"] is None  # not in a git repository
    assert record["lock_sha256"] == hashlib.sha256((project / "uv.lock").read_bytes()).hexdigest()


async def test_given_a_kernel_that_is_not_ours_when_asked_then_null(api: Api) -> None:
    reply = await api.get("provenance", params={"path": "a.ipynb", "kernel": "python3"}, expect=200)
    assert reply.body == {"provenance": None}


async def test_given_bad_parameters_when_asked_then_4xx_with_the_fix(api: Api) -> None:
    missing = await api.get("provenance", params={"path": "a.ipynb"}, expect=400)
    assert "kernel" in missing.body["message"]
    outside = await api.get(
        "provenance", params={"path": "../../etc/x.ipynb", "kernel": "uv-project"}, expect=403
    )
    assert "outside" in outside.body["message"]
    bad = await api.get("provenance", params={"path": "a.ipynb", "kernel": "a b/../c"}, expect=400)
    assert "not a kernel name" in bad.body["message"]

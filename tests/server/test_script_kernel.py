"""The uv-script kernel in a live server: a juv notebook opened as JupyterLab opens it (a
session) runs on exactly its locked packages; the first start builds the env as a
``build-notebook-env`` operation with uv's output as its log; later starts reuse it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from jupyter_uv_kernels.kernelspecs import SCRIPT_KERNEL_NAME
from jupyter_uv_kernels.notebook_script import load_notebook
from jupyter_uv_kernels.script_envs import NotebookScript
from jupyter_uv_kernels.service_notebooks import describe_notebook
from tests.local_package import MODULE, notebook_with_local_package
from tests.script_notebooks import SIX, read, with_block_source

from .conftest import Api

PROBE = "import six, sys; print(six.__version__); print(sys.prefix)"


@pytest.fixture
def envs(tmp_path: Path) -> Path:
    return tmp_path / "notebook-envs"


@pytest.fixture
def uv_kernels_config(uv_kernels_config: dict[str, Any], envs: Path) -> dict[str, Any]:
    return {**uv_kernels_config, "script_env_dir": str(envs)}


@pytest.fixture
def notebook(juv_template: Path, jp_root_dir: Path) -> Path:
    folder = jp_root_dir / "juv"
    folder.mkdir()
    return Path(shutil.copy(juv_template, folder / "analysis.ipynb"))


async def open_session(api: Api, path: str) -> Any:
    """POST /api/sessions as JupyterLab does when a notebook opens with this kernel (after
    the server's first reconcile has written the kernelspec)."""
    await api.wait_for_scan()
    body = {
        "path": path,
        "name": path.rsplit("/", 1)[-1],
        "type": "notebook",
        "kernel": {"name": SCRIPT_KERNEL_NAME},
    }
    return await api.fetch(
        "api",
        "sessions",
        method="POST",
        body=json.dumps(body),
        raise_error=False,
        request_timeout=300,
    )


async def run_in_session(api: Api, path: str, code: str) -> str:
    reply = await open_session(api, path)
    assert reply.code == 201, reply.body
    session = json.loads(reply.body)
    manager = api.serverapp.kernel_manager.get_kernel(session["kernel"]["id"])
    client = manager.client()
    client.start_channels()
    out: list[str] = []
    try:
        await client.wait_for_ready(timeout=120)

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append("ERROR: " + "\n".join(msg["content"]["traceback"]))

        result = await client.execute_interactive(code, output_hook=hook, timeout=120)
        assert result["content"]["status"] == "ok", "".join(out)
    finally:
        client.stop_channels()
        await api.fetch("api", "sessions", session["id"], method="DELETE")
    return "".join(out)


async def build_operations(api: Api) -> list[dict[str, Any]]:
    # Raw fetch: openapi.json's Operation.action enum does not list build-notebook-env yet.
    reply = await api.fetch("uv-kernels", "operations")
    ops = json.loads(reply.body)["operations"]
    return [op for op in ops if op["action"] == "build-notebook-env"]


async def test_given_a_juv_notebook_when_opened_with_uv_script_then_it_runs_its_locked_env(
    api: Api, notebook: Path, envs: Path
) -> None:
    script = NotebookScript.read(str(notebook))
    assert script is not None
    out = await run_in_session(api, "juv/analysis.ipynb", PROBE)
    version, prefix = out.split()
    assert version == SIX
    assert Path(prefix) == envs / script.key
    # the build was an operation, with uv's lines in its log
    [op] = await build_operations(api)
    assert op["state"] == "succeeded" and op["path"] == str(notebook)
    reply = await api.fetch("uv-kernels", "operations", op["id"])
    lines = [entry["line"] for entry in json.loads(reply.body)["log"]]
    assert any(f"six=={SIX}" in line for line in lines), lines
    # a second start reuses the env: no new build
    out = await run_in_session(api, "juv/analysis.ipynb", PROBE)
    assert out.split() == [version, prefix]
    assert len(await build_operations(api)) == 1


async def test_given_a_notebook_with_a_local_package_when_opened_then_the_kernel_imports_it(
    api: Api, jp_root_dir: Path, envs: Path
) -> None:
    # Given a locked juv notebook whose block has ./mylib beside it (juv add --editable)
    folder = jp_root_dir / "paper"
    nb = notebook_with_local_package(folder)
    # When JupyterLab opens it on uv-script, the server builds its env (an operation)
    out = await run_in_session(api, "paper/fig.ipynb", f"import {MODULE}; print({MODULE}.VALUE)")
    # Then the kernel imports the folder's package, and the build left nothing beside it
    assert out.split() == ["one"]
    [op] = await build_operations(api)
    assert op["state"] == "succeeded"
    assert sorted(p.name for p in folder.iterdir()) == ["fig.ipynb", "mylib"]
    # ... and the panel's description calls that env built (the same key as the kernel's)
    described = describe_notebook(load_notebook(str(nb)), str(envs))
    assert described["environment"]["built"] is True


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("print('no block')", "has no inline dependencies"),
        (
            '# /// script\n# dependencies = [\n#     "--index-url=http://x",\n# ]\n# ///',
            "command-line option",
        ),
    ],
)
async def test_given_a_notebook_it_cannot_run_when_opened_then_the_error_says_why(
    api: Api, notebook: Path, envs: Path, source: str, expected: str
) -> None:
    with_block_source(notebook, source)
    reply = await open_session(api, "juv/analysis.ipynb")
    assert reply.code >= 400
    message = json.loads(reply.body)["message"]
    assert expected in " ".join(message.split()) and "Traceback" not in message
    assert not envs.exists() or not list(envs.iterdir())
    assert read(notebook)["cells"][0]["source"] == source  # the notebook is left as it was

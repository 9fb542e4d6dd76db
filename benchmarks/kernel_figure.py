"""Figure (d): kernel start to the first ``kernel_info`` reply, our kernelspec against plain.

Both kernels run the same interpreter of the same uv project (ipykernel, bytecode compiled).
Ours is started exactly as the server starts it: the spec the reconciler writes (format 2:
argv runs the stdlib launcher copied beside kernel.json, which cleans the environment and
execs ipykernel; no provisioner named in the metadata), with ``uv-provisioner`` as the default
provisioner of jupyter_client's ``KernelProvisionerFactory`` singleton (what the server
extension sets) and ``sync_on_start`` given as traitlets config (``UvKernels.sync_on_start``),
so with ``check`` every start runs ``uv sync --check``. The plain spec is what
``ipykernel install`` writes for the same env (``python -m ipykernel_launcher``), started with
jupyter_client's own default, ``local-provisioner``, as a stock server starts it. A third,
report-only side starts our spec with ``local-provisioner`` (as nbclient or papermill outside
the server do): the launcher's own cost. Kernels are started with jupyter_client's
``AsyncKernelManager``, the class the server's MappingKernelManager drives, and the clock
stops when the kernel answers ``kernel_info`` (``wait_for_ready``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager
from kernel_timing import kernel_environment, start_to_ready, take_turns
from measure import LE, Row, X, median, seconds
from traitlets.config import Config
from trees import UV, UV_CACHE

from jupyter_uv_kernels.environments import inspect_environment, venv_interpreter
from jupyter_uv_kernels.kernelspecs import KernelspecReconciler
from jupyter_uv_kernels.provisioner import PROVISIONER_NAME

#: jupyter_client's own default provisioner (a stock server's).
LOCAL_PROVISIONER = "local-provisioner"


def _settings(sync_on_start: str) -> Config:
    return Config(
        {"UvKernels": {"uv": UV, "uv_cache_dir": str(UV_CACHE), "sync_on_start": sync_on_start}}
    )


def figure_d(project: str, runs: int, log: Callable[[str], None]) -> list[Row]:
    kernels = Path(tempfile.mkdtemp(prefix="uvk-bench-kernels-"))
    try:
        with kernel_environment(kernels / "runtime"):
            times = _measure_d(project, kernels, runs)
    finally:
        shutil.rmtree(kernels, ignore_errors=True)
    o, n, t = median(times["check"]), median(times["never"]), median(times["plain"])
    lo = median(times["launcher"])
    plain_text = (
        "a plain ipykernel spec on the same env (`-m ipykernel_launcher`, local-provisioner)"
    )
    return [
        Row(
            "d",
            "kernel start to first `kernel_info` reply, the reconciler's spec (launcher) with "
            "uv-provisioner as the default provisioner, `sync_on_start=check` "
            "(runs `uv sync --check --offline` before launch)",
            seconds(o),
            plain_text,
            seconds(t),
            o / t,
            f"{LE} 1.15{X}",
            runs,
            met=o / t <= 1.15,
        ),
        Row(
            "d",
            "the same with `sync_on_start=never` "
            "(the provisioner's checks and the launcher, no uv)",
            seconds(n),
            plain_text,
            seconds(t),
            n / t,
            "report only",
            runs,
        ),
        Row(
            "d",
            "the reconciler's spec with local-provisioner, as nbclient or papermill outside the "
            "server start it (the launcher alone)",
            seconds(lo),
            plain_text,
            seconds(t),
            lo / t,
            "report only",
            runs,
        ),
    ]


def _measure_d(project: str, kernels: Path, runs: int) -> dict[str, list[float]]:
    env = inspect_environment(project, "project")
    if env.status != "ready" or not env.venv:
        raise RuntimeError(f"the kernel project is {env.status}: {env.problem}")
    uv_name = KernelspecReconciler(kernels, search_dirs=[]).register(env)
    spec = json.loads((kernels / uv_name / "kernel.json").read_text())
    if "kernel_provisioner" in spec.get("metadata", {}):
        raise RuntimeError(f"{uv_name} names a provisioner: not the spec format measured here")
    plain = kernels / "plain"
    plain.mkdir()
    (plain / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [
                    venv_interpreter(env.venv),
                    "-m",
                    "ipykernel_launcher",
                    "-f",
                    "{connection_file}",
                ],
                "display_name": "plain",
                "language": "python",
                "metadata": {"debugger": True},
            }
        )
    )
    ksm = KernelSpecManager(kernel_dirs=[str(kernels)])
    sides = {
        "check": (uv_name, PROVISIONER_NAME, _settings("check")),
        "never": (uv_name, PROVISIONER_NAME, _settings("never")),
        "launcher": (uv_name, LOCAL_PROVISIONER, _settings("never")),
        "plain": ("plain", LOCAL_PROVISIONER, _settings("never")),
    }

    def start(name: str, provisioner: str, config: Config) -> Callable[[], Awaitable[float]]:
        return lambda: start_to_ready(ksm, name, config, provisioner=provisioner)

    return take_turns({k: start(*side) for k, side in sides.items()}, runs)

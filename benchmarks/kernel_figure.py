"""Figure (d): kernel start to the first ``kernel_info`` reply, uv-provisioner against plain.

Both kernels run the same interpreter of the same uv project (ipykernel, bytecode compiled).
The uv spec is the one the reconciler writes (``uv-provisioner``, here with
``sync_on_start=check``, so every start runs ``uv sync --check``); the plain spec has the same
argv and no provisioner. Kernels are started with jupyter_client's ``AsyncKernelManager``,
the class the server's MappingKernelManager drives, and the clock stops when the kernel
answers ``kernel_info`` (``wait_for_ready``).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from measure import LE, Row, X, median, seconds
from servers import VENV_BIN
from traitlets.config import Config
from trees import UV, UV_CACHE

from jupyter_uv_kernels.environments import inspect_environment
from jupyter_uv_kernels.kernelspecs import KernelspecReconciler


async def _start_to_ready(ksm: KernelSpecManager, name: str, config: Config) -> float:
    km = AsyncKernelManager(kernel_name=name, kernel_spec_manager=ksm, config=config)
    started = time.perf_counter()
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=120)
        elapsed = time.perf_counter() - started
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
    return elapsed


def figure_d(project: str, runs: int, log: Callable[[str], None]) -> list[Row]:
    kernels = Path(tempfile.mkdtemp(prefix="uvk-bench-kernels-"))
    saved = {k: os.environ.get(k) for k in ("UV_CACHE_DIR", "PATH", "JUPYTER_RUNTIME_DIR")}
    os.environ["UV_CACHE_DIR"] = str(UV_CACHE)
    os.environ["PATH"] = os.pathsep.join([str(VENV_BIN), saved["PATH"] or os.defpath])
    os.environ["JUPYTER_RUNTIME_DIR"] = str(kernels / "runtime")
    try:
        env = inspect_environment(project, "project")
        if env.status != "ready":
            raise RuntimeError(f"the kernel project is {env.status}: {env.problem}")
        uv_name = KernelspecReconciler(kernels, search_dirs=[]).register(env)
        spec_file = kernels / uv_name / "kernel.json"
        spec = json.loads(spec_file.read_text())
        spec["metadata"]["kernel_provisioner"]["config"]["sync_on_start"] = "check"
        spec_file.write_text(json.dumps(spec, indent=1))
        # The same spec with sync_on_start=never: the provisioner's own cost without uv.
        never = kernels / "uv-never"
        never.mkdir()
        spec["metadata"]["kernel_provisioner"]["config"]["sync_on_start"] = "never"
        (never / "kernel.json").write_text(json.dumps(spec, indent=1))
        plain = kernels / "plain"
        plain.mkdir()
        (plain / "kernel.json").write_text(
            json.dumps({"argv": spec["argv"], "display_name": "plain", "language": "python"})
        )
        ksm = KernelSpecManager(kernel_dirs=[str(kernels)])
        config = Config({"UvKernels": {"uv": UV, "uv_cache_dir": str(UV_CACHE)}})

        async def measure() -> dict[str, list[float]]:
            names = {"check": uv_name, "never": "uv-never", "plain": "plain"}
            times: dict[str, list[float]] = {k: [] for k in names}
            for i in range(runs + 1):  # the first round is the warm-up
                for key, name in names.items():
                    elapsed = await _start_to_ready(ksm, name, config)
                    if i > 0:
                        times[key].append(elapsed)
            return times

        times = asyncio.run(measure())
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(kernels, ignore_errors=True)
    o, n, t = median(times["check"]), median(times["never"]), median(times["plain"])
    return [
        Row(
            "d",
            "kernel start to first `kernel_info` reply, uv-provisioner spec, "
            "`sync_on_start=check` (runs `uv sync --check --offline` before launch)",
            seconds(o),
            "a plain ipykernel spec on the same env",
            seconds(t),
            o / t,
            f"{LE} 1.15{X}",
            runs,
            met=o / t <= 1.15,
        ),
        Row(
            "d",
            "the same with `sync_on_start=never` (the provisioner's checks, no uv)",
            seconds(n),
            "a plain ipykernel spec on the same env",
            seconds(t),
            n / t,
            "report only",
            runs,
        ),
    ]

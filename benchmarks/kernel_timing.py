"""What the kernel-start figures (d and script) share: a kernel started the way the server
starts it and timed to its first ``kernel_info`` reply, the sides taking turns, and the
process environment they need (restored afterwards)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.factory import KernelProvisionerFactory
from servers import VENV_BIN
from traitlets.config import Config
from trees import UV_CACHE

from jupyter_uv_kernels.provisioner import PROVISIONER_NAME, UvProvisioner


@contextlib.contextmanager
def kernel_environment(runtime_dir: Path) -> Iterator[None]:
    """The session uv cache, our venv's bin first on PATH and a runtime dir of the run's
    own; the provisioner factory's default and the variables are restored afterwards."""
    saved = {k: os.environ.get(k) for k in ("UV_CACHE_DIR", "PATH", "JUPYTER_RUNTIME_DIR")}
    os.environ["UV_CACHE_DIR"] = str(UV_CACHE)
    os.environ["PATH"] = os.pathsep.join([str(VENV_BIN), saved["PATH"] or os.defpath])
    os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime_dir)
    factory = KernelProvisionerFactory.instance()
    saved_default = factory.default_provisioner_name
    try:
        yield
    finally:
        factory.default_provisioner_name = saved_default
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


async def start_to_ready(
    ksm: KernelSpecManager,
    name: str,
    config: Config,
    *,
    provisioner: str = PROVISIONER_NAME,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> float:
    """Seconds from ``start_kernel`` to the first ``kernel_info`` reply. The default
    provisioner is set before every start (what the server extension does once at start-up),
    because the sides may alternate between ours and the stock one."""
    KernelProvisionerFactory.instance().default_provisioner_name = provisioner
    km = AsyncKernelManager(kernel_name=name, kernel_spec_manager=ksm, config=config)
    started = time.perf_counter()
    kwargs = {"cwd": cwd} if cwd else {}
    await km.start_kernel(**kwargs, **({"env": dict(env)} if env is not None else {}))
    if isinstance(km.provisioner, UvProvisioner) != (provisioner == PROVISIONER_NAME):
        await km.shutdown_kernel(now=True)
        raise RuntimeError(f"{name} started with {type(km.provisioner).__name__}")
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=timeout)
        elapsed = time.perf_counter() - started
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)
    return elapsed


def take_turns(
    sides: Mapping[str, Callable[[], Awaitable[float]]],
    runs: int,
    on_warm_up: Callable[[str, float], None] | None = None,
) -> dict[str, list[float]]:
    """Each side timed ``runs`` times, the sides in turn in every round, after a warm-up
    round that is not counted (reported to ``on_warm_up``)."""

    async def measure() -> dict[str, list[float]]:
        times: dict[str, list[float]] = {k: [] for k in sides}
        for i in range(runs + 1):
            for key, start in sides.items():
                elapsed = await start()
                if i == 0:
                    if on_warm_up is not None:
                        on_warm_up(key, elapsed)
                else:
                    times[key].append(elapsed)
        return times

    return asyncio.run(measure())

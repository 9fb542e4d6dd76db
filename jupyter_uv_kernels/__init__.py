"""jupyter_uv_kernels: every uv environment you own, as a correct, current Jupyter kernel."""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["__version__"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import UvKernelsApp

    return [{"module": "jupyter_uv_kernels", "app": UvKernelsApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-uv-kernels"}]

"""The Jupyter Server extension: REST routes under ``{base_url}uv-kernels/`` and background scans.

Enabled on install by ``jupyter-config/server-config/jupyter_uv_kernels.json``. At start it
schedules a scan + kernelspec reconcile in the background, so the server answers requests
before the scan ends; it rescans every ``UvKernels.rescan_interval`` seconds. Kernels of
newly found environments are real kernelspec files, so they appear in ``/api/kernelspecs``
without a restart.
"""

from __future__ import annotations

import logging
from typing import Any

from jupyter_server.extension.application import ExtensionApp

from .config import UvKernels
from .handlers import SERVICE_SETTING, default_handlers, fallback_handlers
from .operations import EnvironmentService


class UvKernelsApp(ExtensionApp):
    """Serves the uv-kernels REST API and keeps kernelspecs in step with the environments."""

    name = "jupyter_uv_kernels"
    description = "Every uv environment you own, as a correct, current Jupyter kernel."
    load_other_extensions = True
    classes = [UvKernels]

    service: EnvironmentService | None = None

    def initialize_settings(self) -> None:
        assert self.serverapp is not None
        # Built from the server's config, so c.UvKernels.* in jupyter_server_config.py and
        # --UvKernels.* on the command line apply here exactly as they do for the CLI.
        settings = UvKernels(parent=self.serverapp)
        self.service = EnvironmentService(
            settings, fallback_root=self.serverapp.root_dir, logger=self.log
        )
        self.settings[SERVICE_SETTING] = self.service
        # The domain modules log through the standard ``jupyter_uv_kernels.*`` loggers; send
        # those lines (skipped directories, kernelspec write errors) to the server's log.
        package_log = logging.getLogger("jupyter_uv_kernels")
        if not package_log.handlers:
            for handler in self.log.handlers:
                package_log.addHandler(handler)
            package_log.setLevel(self.log.level)
            package_log.propagate = False
        roots = ", ".join(str(r) for r in self.service.catalog.roots)
        self.log.info("jupyter_uv_kernels: environments are discovered under %s", roots)
        # IOLoop.add_callback works before the loop runs: the first scan starts as soon as
        # it does, in the background (the scan itself runs in a thread).
        self.serverapp.io_loop.add_callback(self._start_service)

    def initialize_handlers(self) -> None:
        self.handlers.extend(default_handlers)
        self.handlers.extend(fallback_handlers)

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        self._start_service()

    def _start_service(self) -> None:
        if self.service is not None:
            self.service.start()  # idempotent

    async def stop_extension(self) -> None:
        """Cancel running operations (uv's process groups are stopped) and background scans."""
        if self.service is not None:
            await self.service.stop()


main = launch_new_instance = UvKernelsApp.launch_instance

"""The Jupyter Server extension: REST routes under ``{base_url}uv-kernels/`` and background scans.

Enabled on install by ``jupyter-config/server-config/jupyter_uv_kernels.json``. At start it
schedules a full walk + kernelspec reconcile in the background, so the server answers
requests before the walk ends. After that the list is kept current by cheap checks when
someone looks: each ``/api/kernelspecs`` fetch (the launcher) and each list of the panel
notes a look, and a contents-API save, rename or delete of a pyproject.toml, uv.lock or
pyvenv.cfg starts a check. Kernels of newly found environments are real kernelspec files,
so they appear in ``/api/kernelspecs`` without a restart.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import Any

from jupyter_client.provisioning.factory import KernelProvisionerFactory
from jupyter_server.extension.application import ExtensionApp

from .config import UvKernels
from .handlers import SERVICE_SETTING, default_handlers, fallback_handlers
from .provisioner import PROVISIONER_NAME, QuietKernelStartErrors, UvProvisioner
from .service import EnvironmentService

#: jupyter_client's own default provisioner.
LOCAL_PROVISIONER = "local-provisioner"

#: A contents-API save, rename or delete of one of these starts a check.
MARKER_NAMES = frozenset({"pyproject.toml", "uv.lock", "pyvenv.cfg"})


class UvKernelsApp(ExtensionApp):
    """Serves the uv-kernels REST API and keeps kernelspecs in step with the environments."""

    name = "jupyter_uv_kernels"
    description = "Every uv environment you own, as a correct, current Jupyter kernel."
    load_other_extensions = True
    classes = [UvKernels]

    service: EnvironmentService | None = None
    #: The default provisioner we replaced, restored when the extension stops.
    _replaced_provisioner: str | None = None
    #: The kernel spec manager whose get_all_specs we wrapped (to note looks).
    _wrapped_ksm: Any = None
    _contents_listener: Any = None

    def initialize_settings(self) -> None:
        assert self.serverapp is not None
        # Built from the server's config, so c.UvKernels.* in jupyter_server_config.py and
        # --UvKernels.* on the command line apply here exactly as they do for the CLI.
        settings = UvKernels(parent=self.serverapp)
        self.service = EnvironmentService(
            settings, fallback_root=self.serverapp.root_dir, logger=self.log
        )
        self.settings[SERVICE_SETTING] = self.service
        self.service.running_kernel_names = self._running_kernel_names
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
        self._use_uv_provisioner()
        self._note_looks()
        UvProvisioner.drift_hook = self.service.index.note_drift
        # A uv-script kernel's first start builds its env as an operation the panel shows.
        UvProvisioner.build_hook = self.service.build_notebook_env
        self.serverapp.log.addFilter(QuietKernelStartErrors())

    def _running_kernel_names(self) -> set[str]:
        """Kernelspec names of the kernels this server runs (a delete asks before it pulls
        an environment from under one)."""
        manager = self.serverapp.kernel_manager if self.serverapp is not None else None
        if manager is None:
            return set()
        names = set()
        for kernel_id in manager.list_kernel_ids():
            with contextlib.suppress(KeyError):
                names.add(str(manager.get_kernel(kernel_id).kernel_name))
        return names

    def _use_uv_provisioner(self) -> None:
        """Make ``uv-provisioner`` the server's default provisioner.

        Our kernelspecs name no provisioner, so that a batch job's Python without this
        package still lists them. In the server, the provisioner must still run (the env
        check, sync_on_start, the actionable "Error Starting Kernel"), so it becomes the
        default that jupyter_client uses for every spec naming none. For specs that are not
        ours it is exactly jupyter_client's LocalProvisioner. A default someone else chose
        is left alone, with a warning.
        """
        assert self.serverapp is not None
        factory = KernelProvisionerFactory.instance(parent=self.serverapp)
        current = factory.default_provisioner_name
        if current == PROVISIONER_NAME:
            return
        if current != LOCAL_PROVISIONER:
            self.log.warning(
                "jupyter_uv_kernels: the default kernel provisioner is %r, so uv kernels start "
                "without sync_on_start and the environment check; they still run in their "
                "environment, cleaned.",
                current,
            )
            return
        factory.default_provisioner_name = PROVISIONER_NAME
        self._replaced_provisioner = current

    def _note_looks(self) -> None:
        """Each ``/api/kernelspecs`` fetch (the launcher's) is a look at the list, and a
        contents-API change to a marker file asks for a check.

        ``get_all_specs`` is wrapped on the server's kernel spec manager instance, whatever
        its class (the user's configured class stays), and restored at stop."""
        assert self.serverapp is not None and self.service is not None
        index = self.service.index
        ksm = self.serverapp.kernel_spec_manager
        if ksm is not None and "get_all_specs" not in vars(ksm):
            original = ksm.get_all_specs

            def get_all_specs(*args: Any, **kwargs: Any) -> Any:
                index.looked()
                return original(*args, **kwargs)

            setattr(ksm, "get_all_specs", get_all_specs)  # noqa: B010 (mypy: no method-assign)
            self._wrapped_ksm = ksm

        contents = getattr(self.serverapp, "contents_manager", None)
        schema = getattr(contents, "event_schema_id", None)
        if contents is None or schema is None:
            return

        async def on_contents_event(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
            paths = (data.get("path"), data.get("source_path"))
            if data.get("action") != "get" and any(
                isinstance(p, str) and os.path.basename(p) in MARKER_NAMES for p in paths
            ):
                index.request_check()

        with contextlib.suppress(Exception):  # an old jupyter_server without events
            contents.event_logger.add_listener(schema_id=schema, listener=on_contents_event)
            self._contents_listener = (contents.event_logger, schema, on_contents_event)

    def _forget_looks(self) -> None:
        ksm = self._wrapped_ksm
        if ksm is not None and "get_all_specs" in vars(ksm):
            del ksm.get_all_specs  # the class's method again
        self._wrapped_ksm = None
        if self._contents_listener is not None:
            event_logger, schema, listener = self._contents_listener
            with contextlib.suppress(Exception):
                event_logger.remove_listener(schema_id=schema, listener=listener)
            self._contents_listener = None

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
        self._forget_looks()
        if self.service is not None:
            await self.service.stop()
            if UvProvisioner.drift_hook == self.service.index.note_drift:
                UvProvisioner.drift_hook = None
            if UvProvisioner.build_hook == self.service.build_notebook_env:
                UvProvisioner.build_hook = None
        if self._replaced_provisioner is not None:
            factory = KernelProvisionerFactory.instance()
            if factory.default_provisioner_name == PROVISIONER_NAME:
                factory.default_provisioner_name = self._replaced_provisioner
            self._replaced_provisioner = None


main = launch_new_instance = UvKernelsApp.launch_instance

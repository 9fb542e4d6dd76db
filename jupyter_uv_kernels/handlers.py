"""REST handlers under ``{base_url}uv-kernels/``: parse, authorise, call the service, answer.

Every handler stacks ``@web.authenticated`` and ``@authorized`` on the ``uv_kernels``
resource. Typed domain errors become ``{"message": ...}`` with their status in one place,
:meth:`UvKernelsHandler.write_error`; nothing sends a traceback. The contract is
``openapi.json`` next to this file, served at ``GET uv-kernels/openapi.json``.
"""

from __future__ import annotations

import json
from http.client import responses
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from .errors import InvalidRequest, PayloadTooLarge, UvKernelsError
from .operation_queue import Operation
from .request_bodies import check_body, openapi_document
from .service import EnvironmentService

#: Authorization resource of every route (Authorizer.is_authorized sees it).
AUTH_RESOURCE = "uv_kernels"
#: Key of the EnvironmentService in the tornado settings.
SERVICE_SETTING = "uv_kernels_service"
PREFIX = "uv-kernels"


class UvKernelsHandler(APIHandler):
    """Base of every uv-kernels handler: auth resource, JSON in and out, error mapping."""

    auth_resource = AUTH_RESOURCE

    @property
    def service(self) -> EnvironmentService:
        service: EnvironmentService = self.settings[SERVICE_SETTING]
        return service

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        # Only for authenticated callers, so an anonymous request gets its 403 first.
        if self.current_user:
            self._check_body_size()

    def _check_body_size(self) -> None:
        limit = self.service.config.effective_max_request_bytes()
        declared = self.request.headers.get("Content-Length")
        try:
            declared_size = int(declared) if declared is not None else 0
        except ValueError:
            raise InvalidRequest("Content-Length is not a number.") from None
        if declared_size > limit or len(self.request.body or b"") > limit:
            raise PayloadTooLarge(
                f"The request body is larger than {limit} bytes (UvKernels.max_request_bytes)."
            )

    def json_body(self, schema: str, what: str) -> dict[str, Any]:
        """The request body, checked against ``components.schemas[schema]`` of the published
        OpenAPI document (:mod:`request_bodies`); an empty body is ``{}``."""
        return check_body(schema, self._parse_json(), what)

    def _parse_json(self) -> Any:
        raw = self.request.body or b""
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise InvalidRequest(f"The request body is not valid JSON: {e}.") from None
        except RecursionError:  # "[[[[…" deeper than the parser's recursion limit
            raise InvalidRequest("The request body is nested too deeply to be parsed.") from None

    def flag(self, name: str) -> bool:
        """A ``true``/``false`` query parameter (default false); anything else is a 400."""
        value = self.get_query_argument(name, "false")
        if value not in ("true", "false"):
            raise InvalidRequest(f"{name} must be true or false, not {value[:20]!r}.")
        return value == "true"

    def reply(self, data: dict[str, Any], status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data))

    def accepted(self, op: Operation) -> None:
        """202 with the operation, and where to follow it."""
        self.set_header(
            "Location",
            url_path_join(self.base_url, PREFIX, "operations", op.id),
        )
        self.reply({"operation": self.service.operation_json(op)}, status=202)

    # -- the one place errors become HTTP ------------------------------------------------

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, UvKernelsError):
            status, message = exc.status, exc.message
        elif isinstance(exc, web.HTTPError):
            status = exc.status_code
            message = exc.log_message or responses.get(status, "Error")
        else:
            status = status_code
            message = (
                "Internal error in jupyter_uv_kernels; the server log has the details."
                if status >= 500
                else responses.get(status, "Error")
            )
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        if isinstance(value, UvKernelsError) and value.status < 500:
            self.log.info(
                "uv-kernels: %s %s -> %d: %s",
                self.request.method,
                self.request.path,
                value.status,
                value.message,
            )
            return
        super().log_exception(typ, value, tb)


class EnvironmentsHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(self.service.environments())

    @web.authenticated
    @authorized
    async def post(self) -> None:
        self.accepted(await self.service.create(self.json_body("CreateRequest", "create")))


class EnvironmentHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def get(self, env_id: str) -> None:
        self.reply(await self.service.details(env_id))

    @web.authenticated
    @authorized
    async def delete(self, env_id: str) -> None:
        self.accepted(await self.service.delete(env_id, force=self.flag("force")))


class SyncHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def post(self, env_id: str) -> None:
        self.accepted(await self.service.sync(env_id, self.json_body("SyncRequest", "sync")))


class PackagesHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def post(self, env_id: str) -> None:
        body = self.json_body("PackagesRequest", "add packages")
        self.accepted(await self.service.add_packages(env_id, body))


class PackageHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def delete(self, env_id: str, name: str) -> None:
        force = self.flag("force")
        self.accepted(await self.service.remove_package(env_id, name, force=force))


class UpgradeHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def post(self, env_id: str) -> None:
        body = self.json_body("UpgradeRequest", "upgrade")
        self.accepted(await self.service.upgrade(env_id, body))


class OutdatedHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def get(self, env_id: str) -> None:
        self.reply(await self.service.outdated(env_id, refresh=self.flag("refresh")))


class TreeHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def get(self, env_id: str) -> None:
        package = self.get_query_argument("package", None)
        self.reply(await self.service.tree(env_id, invert=self.flag("invert"), package=package))


class ExportHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def get(self, env_id: str) -> None:
        fmt = self.get_query_argument("format", None)
        if fmt is None:
            raise InvalidRequest("Give the format: ?format=requirements.txt or pylock.toml.")
        self.reply(await self.service.export(env_id, fmt))

    @web.authenticated
    @authorized
    async def post(self, env_id: str) -> None:
        body = self.json_body("ExportRequest", "export")
        self.reply(await self.service.export_save(env_id, body))


class SizeHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def get(self, env_id: str) -> None:
        self.reply(await self.service.size(env_id))


class KernelHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def post(self, env_id: str) -> None:
        body = self.json_body("KernelRequest", "register kernel")
        self.accepted(await self.service.register_kernel(env_id, body))

    @web.authenticated
    @authorized
    async def delete(self, env_id: str) -> None:
        self.reply(await self.service.unregister_kernel(env_id))


class OperationsHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(self.service.operations_list())


class OperationHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def get(self, op_id: str) -> None:
        raw = self.get_query_argument("since", "0")
        try:
            since = int(raw)
        except ValueError:
            raise InvalidRequest(f"since must be a whole number, not {raw[:40]!r}.") from None
        if since < 0:
            raise InvalidRequest("since must be 0 or more.")
        self.reply(self.service.operation(op_id, since))

    @web.authenticated
    @authorized
    async def delete(self, op_id: str) -> None:
        self.reply(await self.service.cancel(op_id))


class RefreshHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        self.reply(self.service.refresh(), status=202)


class PythonsHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await self.service.pythons())


class IndexesHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(self.service.indexes())


class FilesHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await self.service.files(self.get_query_argument("path", None)))


class ProvenanceHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.get_query_argument("path", None)
        kernel = self.get_query_argument("kernel", None)
        if path is None or kernel is None:
            raise InvalidRequest(
                "Give both query parameters: path (the notebook, relative to the server root) "
                "and kernel (its kernel name)."
            )
        self.reply(await self.service.provenance(path, kernel))


class OpenAPIHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        document = dict(openapi_document())
        # The paths are relative to this server's base_url.
        document["servers"] = [{"url": url_path_join(self.base_url, PREFIX)}]
        self.reply(document)


class NotFoundHandler(UvKernelsHandler):
    """Any other path under ``uv-kernels/``: a JSON 404 like every other answer of this API
    (not the server's HTML page), so clients always get a ``message``."""

    async def _not_found(self, rest: str) -> None:
        raise web.HTTPError(404, f"No uv-kernels route {self.request.path[:200]!r}.")

    @web.authenticated
    @authorized
    async def get(self, rest: str) -> None:
        await self._not_found(rest)

    @web.authenticated
    @authorized
    async def post(self, rest: str) -> None:
        await self._not_found(rest)

    @web.authenticated
    @authorized
    async def put(self, rest: str) -> None:
        await self._not_found(rest)

    @web.authenticated
    @authorized
    async def patch(self, rest: str) -> None:
        await self._not_found(rest)

    @web.authenticated
    @authorized
    async def delete(self, rest: str) -> None:
        await self._not_found(rest)


_ENV = r"(?P<env_id>[^/]+)"

default_handlers: list[tuple[str, type[UvKernelsHandler]]] = [
    (rf"/{PREFIX}/environments", EnvironmentsHandler),
    (rf"/{PREFIX}/environments/{_ENV}", EnvironmentHandler),
    (rf"/{PREFIX}/environments/{_ENV}/sync", SyncHandler),
    (rf"/{PREFIX}/environments/{_ENV}/packages", PackagesHandler),
    (rf"/{PREFIX}/environments/{_ENV}/packages/(?P<name>[^/]+)", PackageHandler),
    (rf"/{PREFIX}/environments/{_ENV}/kernel", KernelHandler),
    (rf"/{PREFIX}/environments/{_ENV}/upgrade", UpgradeHandler),
    (rf"/{PREFIX}/environments/{_ENV}/outdated", OutdatedHandler),
    (rf"/{PREFIX}/environments/{_ENV}/tree", TreeHandler),
    (rf"/{PREFIX}/environments/{_ENV}/export", ExportHandler),
    (rf"/{PREFIX}/environments/{_ENV}/size", SizeHandler),
    (rf"/{PREFIX}/operations", OperationsHandler),
    (rf"/{PREFIX}/operations/(?P<op_id>[^/]+)", OperationHandler),
    (rf"/{PREFIX}/refresh", RefreshHandler),
    (rf"/{PREFIX}/pythons", PythonsHandler),
    (rf"/{PREFIX}/indexes", IndexesHandler),
    (rf"/{PREFIX}/files", FilesHandler),
    (rf"/{PREFIX}/provenance", ProvenanceHandler),
    (rf"/{PREFIX}/openapi\.json", OpenAPIHandler),
]

# The batch-job routes live in their own module, on UvKernelsHandler above (imported last,
# since that module imports this one).
from .handlers_jobs import job_handlers  # noqa: E402

default_handlers += job_handlers

from .handlers_notebooks import notebook_handlers  # noqa: E402

default_handlers += notebook_handlers

#: Registered after every other handler (including other extensions'), so it only answers
#: paths under uv-kernels/ that no route matches.
fallback_handlers: list[tuple[str, type[UvKernelsHandler]]] = [
    (rf"/{PREFIX}(?P<rest>/.*)?", NotFoundHandler),
]

"""The routes about a notebook's own dependencies under ``{base_url}uv-kernels/notebooks``
(issue 15), on the same base as every other handler (:class:`handlers.UvKernelsHandler`:
auth, JSON, error mapping). The notebook is the ``path`` query parameter (GET) or body field
(POST), as POST jobs takes it."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from .errors import InvalidRequest
from .handlers import PREFIX, UvKernelsHandler


class NotebookHandler(UvKernelsHandler):
    def notebook_path(self) -> str:
        path = self.get_query_argument("path", None)
        if path is None:
            raise InvalidRequest(
                "Give the notebook: ?path=NOTEBOOK.ipynb (relative to the server root)."
            )
        return path


class NotebookDependenciesHandler(NotebookHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await self.service.notebook_dependencies(self.notebook_path()))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body("NotebookEditRequest", "notebook dependencies")
        self.accepted(await self.service.edit_notebook_dependencies(body))


class NotebookTreeHandler(NotebookHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        package = self.get_query_argument("package", None)
        reply = await self.service.notebook_tree_reply(
            self.notebook_path(), invert=self.flag("invert"), package=package
        )
        self.reply(reply)


class NotebookOutdatedHandler(NotebookHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await self.service.notebook_outdated_reply(self.notebook_path()))


class NotebookSelfContainedHandler(NotebookHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body("SelfContainedRequest", "make self-contained")
        self.accepted(await self.service.notebook_self_contained(body))


class NotebookProjectHandler(NotebookHandler):
    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body("NotebookProjectRequest", "turn into a project")
        self.accepted(await self.service.notebook_project(body))


notebook_handlers: list[tuple[str, type[UvKernelsHandler]]] = [
    (rf"/{PREFIX}/notebooks/dependencies", NotebookDependenciesHandler),
    (rf"/{PREFIX}/notebooks/tree", NotebookTreeHandler),
    (rf"/{PREFIX}/notebooks/outdated", NotebookOutdatedHandler),
    (rf"/{PREFIX}/notebooks/self-contained", NotebookSelfContainedHandler),
    (rf"/{PREFIX}/notebooks/project", NotebookProjectHandler),
]

"""The batch-job routes under ``{base_url}uv-kernels/jobs`` (issue 13), on the same base
as every other handler (:class:`handlers.UvKernelsHandler`: auth, JSON, error mapping)."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from .handlers import PREFIX, UvKernelsHandler


class JobsHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await self.service.jobs_list())

    @web.authenticated
    @authorized
    async def post(self) -> None:
        dry_run = self.flag("dry_run")
        body = self.json_body("JobRequest", "job")
        answer = await self.service.submit_job(body, dry_run)
        if dry_run:
            self.reply(answer)
            return
        self.set_header("Location", url_path_join(self.base_url, PREFIX, "jobs", answer["id"]))
        self.reply(answer, status=201)


class JobHandler(UvKernelsHandler):
    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        self.reply(await self.service.job(job_id))

    @web.authenticated
    @authorized
    async def delete(self, job_id: str) -> None:
        self.reply(await self.service.cancel_job(job_id))


job_handlers: list[tuple[str, type[UvKernelsHandler]]] = [
    (rf"/{PREFIX}/jobs", JobsHandler),
    (rf"/{PREFIX}/jobs/(?P<job_id>[^/]+)", JobHandler),
]

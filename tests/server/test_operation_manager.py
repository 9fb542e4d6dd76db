"""OperationManager edge cases that the HTTP tests cannot time precisely.

The work here is a plain coroutine (no uv): these tests are about queueing and state.
"""

from __future__ import annotations

import asyncio

from jupyter_uv_kernels.errors import UvKernelsError
from jupyter_uv_kernels.operation_queue import Operation, OperationManager
from jupyter_uv_kernels.uvrunner import LineCallback


async def quick(op: Operation, on_line: LineCallback) -> str:
    on_line("stdout", f"working on {op.path}")
    await asyncio.sleep(0)
    return "done"


async def test_given_many_finished_operations_then_the_history_keeps_the_newest() -> None:
    manager = OperationManager(max_concurrent=2, history=5)
    ops = [
        manager.submit("sync", path=f"/e{i}", key=f"/e{i}", subject_id=None, work=quick)
        for i in range(8)
    ]
    await asyncio.gather(*(op.task for op in ops if op.task))
    await asyncio.sleep(0)  # let the done-callbacks run
    kept = manager.recent()
    assert [op.id for op in kept] == [op.id for op in ops[-5:]]
    assert all(op.state == "succeeded" for op in kept)
    entries, following = kept[-1].log_since(0)
    assert {"stream": "stdout", "line": "working on /e7"} in entries
    assert following == len(entries) == kept[-1].to_json()["log_length"]


async def test_given_a_submitted_operation_when_cancelled_at_once_then_it_ends_cancelled() -> None:
    manager = OperationManager(max_concurrent=1)
    op = manager.submit("sync", path="/e", key="/e", subject_id=None, work=quick)

    await manager.shutdown()  # before the task ran a single step

    assert op.state == "cancelled" and op.finished_at is not None
    assert op.started_at is None


async def test_given_a_domain_error_when_raised_then_the_run_fails_with_its_message() -> None:
    async def broken(op: Operation, on_line: LineCallback) -> str:
        raise UvKernelsError("uv said no; run `uv lock` first.")

    manager = OperationManager(max_concurrent=1)
    op = manager.submit("sync", path="/e", key="/e", subject_id=None, work=broken)
    assert op.task is not None
    await op.task
    assert op.state == "failed" and op.message == "uv said no; run `uv lock` first."
    assert op.log[-1] == {"stream": "info", "line": "failed: uv said no; run `uv lock` first."}

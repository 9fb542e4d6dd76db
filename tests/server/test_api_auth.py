"""Authentication and authorization on every route."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.utils import JupyterServerAuthWarning

from jupyter_uv_kernels.handlers import AUTH_RESOURCE, default_handlers

from .conftest import Api

#: (method, path parts) of every route; ids and names need not exist, auth comes first.
ROUTES = [
    ("GET", ("environments",)),
    ("POST", ("environments",)),
    ("GET", ("environments", "0123456789abcdef")),
    ("DELETE", ("environments", "0123456789abcdef")),
    ("POST", ("environments", "0123456789abcdef", "upgrade")),
    ("GET", ("environments", "0123456789abcdef", "outdated")),
    ("GET", ("environments", "0123456789abcdef", "tree")),
    ("GET", ("environments", "0123456789abcdef", "export")),
    ("POST", ("environments", "0123456789abcdef", "export")),
    ("GET", ("environments", "0123456789abcdef", "size")),
    ("POST", ("environments", "0123456789abcdef", "sync")),
    ("POST", ("environments", "0123456789abcdef", "packages")),
    ("DELETE", ("environments", "0123456789abcdef", "packages", "six")),
    ("POST", ("environments", "0123456789abcdef", "kernel")),
    ("DELETE", ("environments", "0123456789abcdef", "kernel")),
    ("GET", ("operations",)),
    ("GET", ("operations", "0123")),
    ("DELETE", ("operations", "0123")),
    ("POST", ("refresh",)),
    ("GET", ("pythons",)),
    ("GET", ("indexes",)),
    ("GET", ("files",)),
    ("GET", ("provenance",)),
    ("GET", ("openapi.json",)),
    ("GET", ("jobs",)),
    ("POST", ("jobs",)),
    ("GET", ("jobs", "1234.server")),
    ("DELETE", ("jobs", "1234.server")),
    ("GET", ("notebooks", "dependencies")),
    ("POST", ("notebooks", "dependencies")),
    ("GET", ("notebooks", "tree")),
    ("GET", ("notebooks", "outdated")),
    ("POST", ("notebooks", "self-contained")),
    ("POST", ("notebooks", "project")),
]


def test_given_the_handlers_then_the_routes_cover_every_method() -> None:
    implemented = sum(
        1
        for _, handler in default_handlers
        for m in handler.SUPPORTED_METHODS
        if m.lower() in handler.__dict__
    )
    assert implemented == len(ROUTES)


@pytest.mark.parametrize("authorization", ["", "token not-the-token"], ids=["none", "wrong"])
async def test_given_no_token_when_any_route_is_called_then_it_is_refused(
    api: Api, authorization: str
) -> None:
    for method, parts in ROUTES:
        body = {"path": "x", "packages": ["six"]} if method == "POST" else None
        reply = await api.call(
            method, *parts, body=body, headers={"Authorization": authorization}, expect=403
        )
        assert reply.body["message"]
    # Nothing was started by the refused requests.
    listing = await api.get("operations", expect=200)
    assert listing.body["operations"] == []


def test_given_the_extension_when_the_server_starts_then_there_are_no_auth_warnings(
    jp_configurable_serverapp: Any,
) -> None:
    """Like the extension template's check_auth: every handler method is authenticated."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = jp_configurable_serverapp()
    auth_warnings = [w for w in caught if issubclass(w.category, JupyterServerAuthWarning)]
    assert not auth_warnings, [str(w.message) for w in auth_warnings]
    assert "jupyter_uv_kernels" in app.extension_manager.extension_apps
    ext = app.extension_manager.extension_points["jupyter_uv_kernels"].app
    assert ext.__class__.__name__ == "UvKernelsApp"


class ReadOnlyUvKernels(Authorizer):
    """Lets a user read the uv_kernels resource but not change anything."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return not (resource == AUTH_RESOURCE and action != "read")


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any], request: pytest.FixtureRequest) -> dict:
    if "authorizer" in request.node.name:
        server = {**jp_server_config["ServerApp"], "authorizer_class": ReadOnlyUvKernels}
        return {**jp_server_config, "ServerApp": server}
    return jp_server_config


async def test_given_an_authorizer_when_a_route_is_called_then_it_sees_the_uv_kernels_resource(
    api: Api,
) -> None:
    await api.get("environments", expect=200)
    await api.get("openapi.json", expect=200)
    reply = await api.post("refresh", expect=403)
    assert "uv_kernels" in reply.body["message"]
    await api.post("environments", body={"path": "x"}, expect=403)
    await api.delete("operations", "0123", expect=403)

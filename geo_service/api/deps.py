"""FastAPI dependencies: the store of the running app, and who may write."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..core.auth import Principal, allowed_roles, authenticate, authorize
from ..core.storage import Store

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="Token from `geo-service user add NAME --role planner|facilities|admin` (令牌)",
)


def get_store(request: Request) -> Store:
    return request.app.state.store


def _principal(request: Request, store: Store) -> Principal:
    return authenticate(store, request.headers.get("authorization"))


def optional_principal(
    request: Request,
    store: Annotated[Store, Depends(get_store)],
    _cred: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
) -> Principal | None:
    """The principal of a request that carries a token (401 if the token is bad), else None (a resident)."""
    if not request.headers.get("authorization"):
        return None
    return _principal(request, store)


Who = Annotated[Principal | None, Depends(optional_principal)]


def require(permission: str, what_zh: str = "执行此操作"):
    """A dependency that returns the :class:`Principal` if its role has ``permission`` (401/403 otherwise)."""
    roles = allowed_roles(permission)

    def dependency(
        request: Request,
        store: Annotated[Store, Depends(get_store)],
        _cred: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
    ) -> Principal:
        return authorize(_principal(request, store), roles, what_zh)

    dependency.__name__ = f"require_{permission}"
    return dependency


def layer_writer(
    layer: str,
    request: Request,
    store: Annotated[Store, Depends(get_store)],
    _cred: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)] = None,
) -> Principal:
    """The principal, if its role may write ``layer`` (the path parameter)."""
    from ..core.layers import get_layer

    principal = _principal(request, store)  # 401 first: nothing is said to a caller without a token
    spec = get_layer(layer)
    return authorize(principal, allowed_roles(layer=spec.name), f"修改图层「{spec.label_zh}」")

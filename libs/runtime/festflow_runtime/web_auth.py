"""Who is asking a micro-frontend, as typed dependencies: `Visitor` (anyone, None when not logged in),
`CurrentUser` (logged in), `AdminUser` (an organiser), `StaffUser` (gate staff or an organiser). A refusal
is raised as `Refused`; the app shows its "please log in" or "not allowed" fragment for it
(fragment_app.create_fragment_app)."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response

from festflow_contracts.tokens import COOKIE_NAME, Identity
from festflow_runtime.client_address import HEADER, client_address


class Refused(Exception):
    """`reason` is "login" (401: nobody is logged in) or "role" (403: this account may not)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
        self.status = 401 if reason == "login" else 403


def visitor(request: Request) -> Identity | None:
    return request.app.state.parts.verifier.identify(request.cookies.get(COOKIE_NAME))


def current_user(who: Annotated[Identity | None, Depends(visitor)]) -> Identity:
    if who is None:
        raise Refused("login")
    return who


def admin_user(who: Annotated[Identity, Depends(current_user)]) -> Identity:
    if not who.is_admin:
        raise Refused("role")
    return who


def staff_user(who: Annotated[Identity, Depends(current_user)]) -> Identity:
    if who.role not in ("admin", "staff"):
        raise Refused("role")
    return who


Visitor = Annotated[Identity | None, Depends(visitor)]
CurrentUser = Annotated[Identity, Depends(current_user)]
AdminUser = Annotated[Identity, Depends(admin_user)]
StaffUser = Annotated[Identity, Depends(staff_user)]


def bearer(request: Request) -> dict[str, str]:
    """The caller's own token as the Authorization header of a call to an API (empty when not logged in)."""
    token = request.cookies.get(COOKIE_NAME)
    return {"Authorization": f"Bearer {token}"} if token else {}


def for_visitor(request: Request) -> dict[str, str]:
    """The header that tells the order API which client a form is for: its limits and lockouts are kept per
    client address, and this app's own address is everyone's. The client is the gateway's X-Real-IP when
    the gateway is a trusted proxy (festflow_runtime.client_address)."""
    peer = request.client.host if request.client else None
    return {HEADER: client_address(peer, request.headers.get(HEADER), request.app.state.parts.trusted_proxies)}


def set_session(request: Request, response: Response, login: dict) -> None:
    """The session cookie from the order API's login answer: HttpOnly, SameSite=Lax, Secure over HTTPS."""
    response.set_cookie(COOKIE_NAME, login["access_token"], max_age=login["expires_in"], httponly=True,
                        samesite="lax", path="/",
                        secure=request.app.state.parts.settings.cookie_secure
                        or request.headers.get("x-forwarded-proto") == "https")

"""The logged-in buyer's account: who they are, a mailed link to set a new password, log out everywhere."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from festflow_contracts.tokens import COOKIE_NAME
from festflow_runtime.fragment_app import page
from festflow_runtime.web_auth import Visitor, bearer
from mf_account.web import UNAVAILABLE, account_api

router = APIRouter()


@router.get("/account/")
async def account(request: Request, identity: Visitor):
    if identity is None:
        return RedirectResponse("/login?" + urlencode({"next": "/account/"}), status_code=303)
    return page(request, "Your account", "account", template="account.html", errors={})


@router.post("/account/logout-everywhere")
async def logout_everywhere(request: Request, identity: Visitor):
    """Ends every session of the account (every device's token is refused from now on)."""
    if identity is None:
        return RedirectResponse("/login", status_code=303)
    ended = await account_api(request, "/api/auth/logout-everywhere", headers=bearer(request))
    if ended.status >= 500:
        return page(request, "Your account", "account", template="account.html", errors=UNAVAILABLE,
                    status_code=503)
    redirect = RedirectResponse("/login?" + urlencode({"notice": "logged-out-all"}), status_code=303)
    redirect.delete_cookie(COOKIE_NAME, path="/")
    return redirect

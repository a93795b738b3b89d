"""Creating an account (logged in at once, to fill a cart while the confirmation mail arrives) and the
mail's link that confirms the address."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from festflow_runtime.api_answers import field_errors
from festflow_runtime.fragment_app import page
from festflow_runtime.web_auth import Visitor, set_session
from mf_account.web import account_api, refusal

router = APIRouter()
TITLE = "Create an account"


@router.get("/account/signup")
async def signup_page(request: Request, identity: Visitor, done: str = ""):
    return page(request, TITLE, "signup", template="signup.html", done=done[:200], ready=identity is not None,
                values={}, errors={})


@router.post("/account/signup")
async def signup(request: Request, username: str = Form(""), email: str = Form(""), password: str = Form("")):
    values = {"username": username[:64], "email": email[:200]}
    made = await account_api(request, "/api/auth/register",
                             {"username": username, "email": email, "password": password})
    if made.status != 201:
        errors, status = refusal(made)
        return page(request, TITLE, "signup", template="signup.html", values=values, errors=errors,
                    status_code=status)
    redirect = RedirectResponse("/account/signup?" + urlencode({"done": made.body["email"]}), status_code=303)
    # logged in at once: the new buyer can fill a cart while the mail arrives
    login = await account_api(request, "/api/auth/login", {"username": made.body["username"], "password": password})
    if login.status == 200:
        set_session(request, redirect, login.body)
    return redirect


@router.get("/account/verify-email")
async def verify_email(request: Request, token: str = ""):
    """The link of the confirmation mail. Opening it confirms the address (once)."""
    reason = "This link is not complete; open it from the mail again."
    if token:
        confirmed = await account_api(request, "/api/auth/verify-email", {"token": token[:200]})
        if confirmed.status == 200:
            return page(request, "Address confirmed", "verify", template="verify_email.html", verified=True,
                        verified_user=confirmed.body.get("username"))
        reason = (field_errors(confirmed.body).get("form", reason) if confirmed.status < 500
                  else "We cannot confirm addresses right now; open the link again in a moment.")
    return page(request, "Link not valid", "verify", template="verify_email.html", verified=False, reason=reason,
                status_code=400)

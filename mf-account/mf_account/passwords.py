"""A forgotten password: a link by mail (the answer is the same for any address), and the mail's link
that sets a new password (and ends every session of the account)."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from festflow_runtime.fragment_app import page
from mf_account.web import account_api, refusal

router = APIRouter()
FORGOT = "Forgot your password?"
RESET = "Set a new password"


@router.get("/account/forgot-password")
async def forgot_password_page(request: Request):
    return page(request, FORGOT, "forgot", template="forgot_password.html", values={}, errors={})


@router.post("/account/forgot-password")
async def password_reset(request: Request, email: str = Form("")):
    values = {"email": email[:200]}
    if "@" not in email:
        return page(request, FORGOT, "forgot", template="forgot_password.html", values=values,
                    errors={"email": "Enter the email address of your account."}, status_code=422)
    asked = await account_api(request, "/api/auth/password-reset", {"email": email[:200]})
    if asked.status != 202:
        errors, status = refusal(asked)
        return page(request, FORGOT, "forgot", template="forgot_password.html", values=values, errors=errors,
                    status_code=status)
    return page(request, FORGOT, "forgot", template="forgot_password.html", sent=asked.body["detail"], values={},
                errors={})


@router.get("/account/reset-password")
async def reset_password_page(request: Request, token: str = ""):
    return page(request, RESET, "reset", template="reset_password.html", token=token[:200], errors={})


@router.post("/account/reset-password")
async def reset_password(request: Request, token: str = Form(""), password: str = Form("")):
    reset = await account_api(request, "/api/auth/password-reset/confirm", {"token": token[:200], "password": password})
    if reset.status == 200:
        return RedirectResponse("/login?" + urlencode({"notice": "password-set", "username": reset.body["username"]}),
                                status_code=303)
    errors, status = refusal(reset)
    return page(request, RESET, "reset", template="reset_password.html", token=token[:200], errors=errors,
                status_code=status)

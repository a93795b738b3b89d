"""The mailed one-time login link (sent when an account was guessed at from many addresses). Opening it
shows a button: a mail program that fetches links to look at them does not use it up."""
from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from festflow_runtime.fragment_app import page
from festflow_runtime.web_auth import set_session
from mf_account.web import account_api, refusal

router = APIRouter()


@router.get("/account/login-link")
async def login_link_page(request: Request, token: str = ""):
    return page(request, "Log in", "login_link", template="login_link.html", token=token[:200], errors={})


@router.post("/account/login-link")
async def login_by_link(request: Request, token: str = Form("")):
    login = await account_api(request, "/api/auth/login-link", {"token": token[:200]})
    if login.status == 200:
        redirect = RedirectResponse("/", status_code=303)
        set_session(request, redirect, login.body)
        return redirect
    errors, status = refusal(login)
    return page(request, "Log in", "login_link", template="login_link.html", token=token[:200], errors=errors,
                status_code=status)

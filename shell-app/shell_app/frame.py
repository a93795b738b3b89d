"""The frame every page is composed in: the `<head>` (each app's styles and scripts, htmx), the header
(brand, navigation, the organiser's link, the bell, who is logged in) and the footer, as fragments the
gateway includes into each app's pages (SSI; festflow_runtime's festflow_page.html); and the site's
"page not found"."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from festflow_runtime.fragment_app import not_found_page, render
from festflow_runtime.web_auth import Visitor

router = APIRouter()


@router.get("/shell/fragments/v1/head", response_class=HTMLResponse)
async def head(request: Request):
    return render(request, "head.html", {})


@router.get("/shell/fragments/v1/header", response_class=HTMLResponse)
async def header(request: Request, identity: Visitor):
    return render(request, "header.html", {"identity": identity})


@router.get("/shell/fragments/v1/footer", response_class=HTMLResponse)
async def footer(request: Request):
    return render(request, "footer.html", {})


@router.get("/shell/not-found", response_class=HTMLResponse)
async def not_found(request: Request):
    """What the gateway shows for a URL nothing serves (an HTML page, with the site's frame)."""
    return not_found_page(request)

"""Page (see CONTRACT.md): /gate/. Fragment: /gate/fragments/v1/scanner. Static: /gate/static/.

The gate's scanner: the phone's camera reads QR codes in the page (jsQR, from npm, served from here);
each code goes to the ticketing API's `POST /api/checkin/scan` from the page itself, with the staff
member's cookie; the answer is shown large (ADMITTED in green, or the reason in red) with the holder and
ticket type, and the gate's running count. Without a camera the code can be typed.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from festflow_runtime.fragment_app import Subscribe, create_fragment_app, page, render
from festflow_runtime.web_auth import StaffUser, Visitor
from mf_gate.settings import Settings

router = APIRouter()


def create_app(settings: Settings | None = None, *, subscribe: Subscribe | None = None) -> FastAPI:
    """The app (run by `uvicorn --factory mf_gate.main:create_app`)."""
    return create_fragment_app(title="FestFlow gate micro-frontend", settings=settings or Settings(),
                               folder=Path(__file__).parent, prefix="/gate", routers=[router],
                               refused_template="scanner.html", subscribe=subscribe)


@router.get("/gate/", response_class=HTMLResponse)
async def gate_page(request: Request, visitor: Visitor):
    """The gate's page (nobody logged in is sent to log in first; a buyer sees the scanner's "not allowed")."""
    if visitor is None:
        return RedirectResponse("/login?next=/gate/", status_code=303)
    return page(request, "Gate", "gate", [("/gate/fragments/v1/scanner", "The scanner is unavailable right now.")],
                template="gate_page.html")


@router.get("/gate/fragments/v1/scanner", response_class=HTMLResponse)
async def scanner(request: Request, staff: StaffUser, gate: str = "Main"):
    """The scanner for gate staff and admins; a login prompt or "not allowed" for anyone else."""
    return render(request, "scanner.html", {"identity": staff, "reason": None, "gate": gate.strip()[:60] or "Main"})

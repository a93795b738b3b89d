"""Fragment (see CONTRACT.md): /gate/fragments/v1/scanner. Static: /gate/static/.

The gate's scanner: the phone's camera reads QR codes in the page (jsQR, from npm, served from here);
each code goes to the ticketing API's `POST /api/checkin/scan` from the page itself, with the staff
member's cookie; the answer is shown large (ADMITTED in green, or the reason in red) with the holder and
ticket type, and the gate's running count. Without a camera the code can be typed.
"""
from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from festflow_contracts.tokens import COOKIE_NAME, TokenVerifier
from festflow_runtime.revocations import subscribe_revocations
from festflow_runtime.same_origin import SameOriginMiddleware
from festflow_runtime.startup_heap import freeze_startup_heap
from mf_gate.settings import Settings

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
GATE_ROLES = ("admin", "staff")
router = APIRouter()


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings: Settings = app.state.settings
    app.state.verifier = TokenVerifier(settings.public_key_pem())
    revocations = subscribe_revocations(settings.kafka_bootstrap_servers, app.state.verifier)
    revocations.start()  # logged-out tokens are refused here too
    freeze_startup_heap()  # no full garbage collection walks what was made at start
    try:
        yield
    finally:
        await revocations.stop()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app (run by `uvicorn --factory mf_gate.main:create_app`)."""
    app = FastAPI(title="FestFlow gate micro-frontend", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)  # internal: no documents of its routes for strangers
    app.state.settings = settings or Settings()
    app.add_middleware(SameOriginMiddleware)
    app.mount("/gate/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(router)
    return app


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/gate/fragments/v1/scanner", response_class=HTMLResponse)
async def scanner(request: Request, gate: str = "Main"):
    """The scanner for gate staff and admins; a login prompt or "not allowed" for anyone else."""
    identity = request.app.state.verifier.identify(request.cookies.get(COOKIE_NAME))
    reason = None if identity and identity.role in GATE_ROLES else ("login" if identity is None else "role")
    return templates.TemplateResponse(request, "scanner.html", {"identity": identity, "reason": reason,
                                                                "gate": gate.strip()[:60] or "Main"},
                                      status_code={None: 200, "login": 401, "role": 403}[reason],
                                      headers={"Cache-Control": "no-store"})

"""Order service: FastAPI REST API (docs at /docs). What it is made of is wired in bootstrap.py."""
from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from festflow_runtime import database
from festflow_runtime.http_errors import install_error_handlers
from festflow_runtime.same_origin import SameOriginMiddleware
from festflow_runtime.startup_heap import lifespan_running
from order_service import bootstrap
from order_service.checkout_lane import CheckoutLane
from order_service.deps import AppServices
from order_service.routes_admin import router as admin_router
from order_service.routes_auth import router as auth_router
from order_service.routes_cart import router as cart_router
from order_service.routes_orders import router as orders_router
from order_service.routes_tickets import router as tickets_router
from order_service.settings import Settings

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def create_app(settings: Settings | None = None, services: bootstrap.Services | None = None) -> CheckoutLane:
    """The order API (run by `uvicorn --factory order_service.main:create_app`): the FastAPI app, with the
    checkout lane in front of it. Tests hand in Services built with fakes."""
    services = services or bootstrap.build(settings or Settings())
    return CheckoutLane(create_api(services), services, busy)


def create_api(services: bootstrap.Services) -> FastAPI:
    """The FastAPI app: every route, documented at /docs."""
    app = FastAPI(
        title="FestFlow order service",
        description="Public REST API of FestFlow: login, tickets, orders. Money is in euros as decimal strings "
                    "(`price`, `total`) and in integer cents (`price_cents`, `total_cents`).",
        lifespan=lifespan_running(bootstrap.running), docs_url=None, redoc_url=None,
    )
    app.state.services = services  # routes take them as deps.AppServices
    install_docs(app)
    app.add_middleware(SameOriginMiddleware)  # cookie-authenticated writes come from our own pages only
    install_error_handlers(app)
    app.add_exception_handler(sa.exc.TimeoutError, database_busy)
    app.include_router(auth_router)
    app.include_router(tickets_router)
    app.include_router(orders_router)
    app.include_router(cart_router)
    app.include_router(admin_router)
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["health"])
    return app


STATIC = Path(__file__).parent / "static"
SWAGGER_UI = "/static/vendor/swagger-ui-5.35.0"  # from npm (swagger-ui-dist), with its licence
REDOC = "/static/vendor/redoc-2.5.4"  # from npm (redoc), with its licence


def install_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) and /redoc from files served here: they work without the internet."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - Swagger UI",
                                   swagger_js_url=f"{SWAGGER_UI}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{SWAGGER_UI}/swagger-ui.css",
                                   swagger_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png")

    async def redoc() -> HTMLResponse:
        page = get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} - ReDoc",
                              redoc_js_url=f"{REDOC}/redoc.standalone.js",
                              redoc_favicon_url=f"{SWAGGER_UI}/favicon-32x32.png", with_google_fonts=False)
        # ReDoc's footer shows its maker's logo from their CDN: images come from here only
        page.headers["Content-Security-Policy"] = "img-src 'self' data: blob:; connect-src 'self'"
        return page

    app.add_api_route("/docs", swagger_ui, methods=["GET"], include_in_schema=False)
    app.add_api_route("/redoc", redoc, methods=["GET"], include_in_schema=False)


async def database_busy(_request: Request, _exc: Exception) -> JSONResponse:
    return busy()


def busy() -> JSONResponse:
    """The database queue was longer than the request's budget."""
    return JSONResponse({"detail": "the order service is busy; retry in a moment with the same Idempotency-Key "
                                   "(a retry never buys twice)"}, status_code=503, headers={"Retry-After": "1"})


async def healthz(services: AppServices):
    checks = {"database": await database.health(services.engine)}
    checks["rabbitmq"] = "ok" if getattr(services.publisher, "healthy", False) else "down"
    checks["kafka"] = "ok" if services.status_events and services.status_events.ready else "down"
    checks["inventory"] = "ok" if await services.inventory.healthy() else "down"
    checks["catalog"] = "ok" if services.catalog.loaded else "not loaded"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if healthy else "degraded", "checks": checks},
                        status_code=200 if healthy else 503)

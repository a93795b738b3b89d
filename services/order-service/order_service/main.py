"""Order service: FastAPI REST API (docs at /docs), command outbox relayed to RabbitMQ, Kafka status projection."""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from pathlib import Path

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from festflow_contracts.channels import (
    ACCOUNT_EVENTS_TOPIC,
    AUTH_EVENTS_TOPIC,
    CATALOG_EVENTS_TOPIC,
    ORDER_EVENTS_TOPIC,
    TICKET_EVENTS_TOPIC,
)
from festflow_contracts.tokens import TokenVerifier
from festflow_runtime import database
from festflow_runtime.client_address import trusted_networks
from festflow_runtime.event_stream import Subscription, cancel_and_wait
from festflow_runtime.http_errors import install_error_handlers
from festflow_runtime.log_feed import LogFeed
from festflow_runtime.outbox import KafkaSender, OutboxRelay
from festflow_runtime.revocations import subscribe_revocations
from festflow_runtime.same_origin import SameOriginMiddleware
from festflow_runtime.startup_heap import freeze_startup_heap
from order_service import db
from order_service.catalog import CatalogReadModel
from order_service.checkout_lane import CheckoutLane
from order_service.command_relay import CommandRelay
from order_service.inventory_client import InventoryClient
from order_service.login import LoginPolicy
from order_service.ordering import CheckoutWriter, Limits, VerifiedBuyers
from order_service.publisher import CommandPublisher
from order_service.read_model import OrderStatusProjection
from order_service.revocation_publisher import RevocationPublisher
from order_service.routes_admin import router as admin_router
from order_service.routes_auth import router as auth_router
from order_service.routes_cart import router as cart_router
from order_service.routes_orders import router as orders_router
from order_service.routes_tickets import router as tickets_router
from order_service.security import TokenIssuer, seed_demo_users
from order_service.settings import Settings

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings: Settings = app.state.settings
    log_feed = LogFeed("order-service", settings.kafka_bootstrap_servers, ("order_service", "uvicorn.error"))
    log_feed.start()
    engine = db.make_engine(settings.database_url)
    await db.create_schema(engine)
    await seed_demo_users(engine)
    state = app.state
    state.engine = engine
    state.limits = Limits(settings.max_quantity_per_item, settings.max_items_per_order)
    state.verified_buyers = VerifiedBuyers()
    state.checkout_writer = CheckoutWriter(engine, state.verified_buyers)
    state.verifier = TokenVerifier(settings.public_key_pem())
    state.issuer = TokenIssuer(settings.private_key_pem(), settings.jwt_ttl_seconds, state.verifier)
    state.inventory = InventoryClient(settings.inventory_url, settings.internal_api_token)
    state.catalog = CatalogReadModel(state.inventory)
    catalog_task = asyncio.create_task(state.catalog.load_until_done(), name="catalog-snapshot")
    state.catalog_events = Subscription(settings.kafka_bootstrap_servers, (CATALOG_EVENTS_TOPIC,), state.catalog.apply,
                                        group_id=None, from_beginning=True)
    state.catalog_events.start()
    state.publisher = CommandPublisher(settings.amqp_url)
    await state.publisher.start()
    state.revocations = RevocationPublisher(settings.kafka_bootstrap_servers)
    revocations_task = asyncio.create_task(state.revocations.run(), name="revocations")
    state.revoked = subscribe_revocations(settings.kafka_bootstrap_servers, state.verifier)
    state.revoked.start()
    state.relay = CommandRelay(engine, state.publisher)
    relay_task = asyncio.create_task(state.relay.run(), name="command-relay")
    event_sender = KafkaSender(settings.kafka_bootstrap_servers, (ACCOUNT_EVENTS_TOPIC, AUTH_EVENTS_TOPIC))
    state.event_relay = OutboxRelay(engine, db.event_outbox, event_sender, logging.getLogger("order_service.events"))
    event_relay_task = asyncio.create_task(state.event_relay.run(), name="event-relay")
    projection = OrderStatusProjection(engine, state.limits)
    state.events = Subscription(settings.kafka_bootstrap_servers, (ORDER_EVENTS_TOPIC, TICKET_EVENTS_TOPIC),
                                projection.apply, batch_handler=projection.apply_many,
                                group_id="order-service-status", from_beginning=True)
    state.events.start()
    freeze_startup_heap()  # no full garbage collection walks what was made at start
    try:
        yield
    finally:
        if state.account_work:  # a reset answered a moment ago writes its link before the database closes
            await asyncio.wait(state.account_work, timeout=2)
        await state.events.stop()
        await state.catalog_events.stop()
        await cancel_and_wait(catalog_task)
        await cancel_and_wait(relay_task)
        await cancel_and_wait(event_relay_task)
        await event_sender.close()
        await state.revoked.stop()
        await cancel_and_wait(revocations_task)
        await state.publisher.close()
        await state.inventory.close()
        await engine.dispose()
        await log_feed.stop()


def create_app(settings: Settings | None = None) -> CheckoutLane:
    """The order API (run by `uvicorn --factory order_service.main:create_app`): the FastAPI app, with the
    checkout lane in front of it."""
    return CheckoutLane(create_api(settings), busy)


def create_api(settings: Settings | None = None) -> FastAPI:
    """The FastAPI app: every route, documented at /docs."""
    app = FastAPI(
        title="FestFlow order service",
        description="Public REST API of FestFlow: login, tickets, orders. Money is in euros as decimal strings "
                    "(`price`, `total`) and in integer cents (`price_cents`, `total_cents`).",
        lifespan=lifespan, docs_url=None, redoc_url=None,
    )
    app.state.settings = settings or Settings()
    app.state.trusted_proxies = trusted_networks(app.state.settings.trusted_proxies)
    app.state.login_policy = LoginPolicy(address_lock_after=app.state.settings.login_address_lock_after,
                                         proof_after=app.state.settings.login_proof_after)
    app.state.account_work = set()  # account mails queued after their request was answered (routes_auth)
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


async def healthz(request: Request):
    state = request.app.state
    checks = {"database": await database.health(state.engine)}
    checks["rabbitmq"] = "ok" if state.publisher.healthy else "down"
    checks["kafka"] = "ok" if state.events.ready else "down"
    checks["inventory"] = "ok" if await state.inventory.healthy() else "down"
    checks["catalog"] = "ok" if state.catalog.loaded else "not loaded"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if healthy else "degraded", "checks": checks},
                        status_code=200 if healthy else 503)

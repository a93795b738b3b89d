"""The skeleton every micro-frontend and the shell are built on: the app factory, the lifespan, /healthz,
the token verifier kept current with logouts, clients for the APIs the app calls, and live views (Kafka
events mapped to updates that open pages follow over SSE). What is left in an app is its routes and
templates.

Each app calls `create_fragment_app(...)` from its `main.create_app`; its routes reach the parts through
`parts(request)` (or the dependencies in `web_auth`). A unit test passes `subscribe=OfflineEvents()`: no
Kafka consumer is started, and the test hands events to the live views itself.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any, Protocol

import httpx
import jinja2
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sse_starlette.sse import EventSourceResponse

from festflow_contracts.channels import AUTH_EVENTS_TOPIC
from festflow_contracts.tokens import COOKIE_NAME, TokenVerifier
from festflow_runtime import display
from festflow_runtime.client_address import trusted_networks
from festflow_runtime.event_stream import Subscription
from festflow_runtime.fanout import Fanout
from festflow_runtime.revocations import revocation_handler
from festflow_runtime.same_origin import SameOriginMiddleware
from festflow_runtime.settings import PlatformSettings
from festflow_runtime.startup_heap import freeze_startup_heap
from festflow_runtime.web_auth import Refused, visitor

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class Subscribed(Protocol):
    @property
    def ready(self) -> bool: ...

    def start(self) -> None: ...
    async def stop(self) -> None: ...


# topics, handler, whether to read each topic from its start -> a subscription, not started yet
Subscribe = Callable[[tuple[str, ...], Handler, bool], Subscribed]


def kafka_events(bootstrap: str) -> Subscribe:
    """Subscriptions to Kafka, each instance reading for itself (no consumer group)."""
    def subscribe(topics: tuple[str, ...], handler: Handler, from_beginning: bool) -> Subscribed:
        return Subscription(bootstrap, topics, handler, group_id=None, from_beginning=from_beginning)
    return subscribe


class OfflineEvents:
    """No broker, for unit tests: it keeps the handlers, and `deliver` hands an event to those of its topic."""

    @dataclass
    class Held:
        topics: tuple[str, ...]
        handler: Handler
        ready: bool = True

        def start(self) -> None:
            pass

        async def stop(self) -> None:
            pass

    def __init__(self) -> None:
        self.held: list[OfflineEvents.Held] = []

    def __call__(self, topics: tuple[str, ...], handler: Handler, from_beginning: bool) -> Subscribed:
        held = OfflineEvents.Held(topics, handler)
        self.held.append(held)
        return held

    async def deliver(self, topic: str, event: dict[str, Any]) -> None:
        for held in self.held:
            if topic in held.topics:
                await held.handler(event)


@dataclass(frozen=True)
class LiveView:
    """Events from `topics`, each made into an update by `to_update` (None: nothing for the pages), sent to
    every page that follows `path` as server-sent events named `event`."""
    path: str
    event: str
    topics: tuple[str, ...]
    to_update: Callable[[dict[str, Any]], dict[str, Any] | None]
    admins_only: bool = False


@dataclass
class WebParts:
    """What an app's routes use: its settings, the token verifier, its API clients by name, its templates."""
    settings: PlatformSettings
    verifier: TokenVerifier
    templates: Jinja2Templates
    apis: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()  # who may say which client a request is for
    feeds: dict[str, Fanout] = field(default_factory=dict)  # a live view's fan-out, by its path
    live: list[Subscribed] = field(default_factory=list)  # the live views' subscriptions

    def api(self, name: str) -> httpx.AsyncClient:
        return self.apis[name]


def parts(request: Request) -> WebParts:
    return request.app.state.parts


def fragment_templates(folder: Path) -> Jinja2Templates:
    """The app's Jinja2 templates (and the shared `festflow_page.html`, a page in the shell's frame), with the
    shared filters: `when` (a moment, shown in the buyer's time
    zone by the page's script), `moment` (the same as plain text), `dates` (a festival's dates), `money`
    (cents as euros), `time_left` (a countdown to a deadline)."""
    templates = Jinja2Templates(env=jinja2.Environment(autoescape=True, loader=jinja2.ChoiceLoader(
        [jinja2.FileSystemLoader(folder), jinja2.FileSystemLoader(Path(__file__).parent / "templates")])))
    templates.env.filters.update(when=display.when, moment=display.moment, dates=display.date_range,
                                 money=display.money, time_left=display.time_left)
    return templates


def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """A fragment or page from the app's templates, never cached (it shows who is logged in)."""
    return parts(request).templates.TemplateResponse(request, template, context, status_code=status_code,
                                                     headers={"Cache-Control": "no-store"})


def page(request: Request, title: str, name: str, fragments: Sequence[tuple[str, str]] = (), *,
         template: str = "festflow_page.html", status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page of this app in the shell's frame (festflow_page.html): `name` is its `data-page`, `fragments` the
    (path, stub text) it composes in; a page with content of its own extends festflow_page.html."""
    return render(request, template, {"title": title, "page": name, "fragments": list(fragments),
                                      "identity": visitor(request), **context}, status_code=status_code)


def not_found_page(request: Request) -> HTMLResponse:
    """The site's "page not found" (status 404), in the frame."""
    return page(request, "Page not found", "not_found", template="festflow_not_found.html", status_code=404)


def create_fragment_app(*, title: str, settings: PlatformSettings, folder: Path, prefix: str,
                        routers: Sequence[APIRouter], apis: dict[str, tuple[str, float]] | None = None,
                        live: Sequence[LiveView] = (), refused_template: str | None = "refused.html",
                        filters: dict[str, Callable[..., Any]] | None = None,
                        transport: httpx.AsyncBaseTransport | None = None,
                        subscribe: Subscribe | None = None) -> FastAPI:
    """An app whose static files are `folder/static` served under `{prefix}/static`, whose templates are in
    `folder/templates` (with the shared filters and the app's own `filters`), and whose API clients are
    `apis` (name -> (base URL, timeout in seconds)); tests pass a fake `transport` for every API and
    `subscribe=OfflineEvents()`."""
    subscribe = subscribe or kafka_events(settings.kafka_bootstrap_servers)
    templates = fragment_templates(folder / "templates")
    templates.env.filters.update(filters or {})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        verifier = TokenVerifier(settings.public_key_pem())
        web = WebParts(settings, verifier, templates, trusted_proxies=trusted_networks(settings.trusted_proxies))
        revocations = subscribe((AUTH_EVENTS_TOPIC,), revocation_handler(verifier), True)  # logouts refused here too
        for view in live:
            feed = web.feeds[view.path] = Fanout()
            web.live.append(subscribe(view.topics, _publisher(view, feed), False))
        async with AsyncExitStack() as stack:
            for name, (url, timeout) in (apis or {}).items():
                web.apis[name] = await stack.enter_async_context(
                    httpx.AsyncClient(base_url=url, timeout=timeout, transport=transport))
            for subscription in (revocations, *web.live):
                subscription.start()
                stack.push_async_callback(subscription.stop)
            app.state.parts = web
            freeze_startup_heap()  # no full garbage collection walks what was made at start
            yield

    app = FastAPI(title=title, lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)  # internal: no documents of its routes for strangers
    app.add_middleware(SameOriginMiddleware, streams=tuple(view.path for view in live))
    app.mount(f"{prefix}/static", StaticFiles(directory=folder / "static"), name="static")
    app.add_api_route("/healthz", healthz, methods=["GET"])
    for view in live:
        app.add_api_route(view.path, _stream(view), methods=["GET"])
    for router in routers:
        app.include_router(router)
    if refused_template:
        async def refused(request: Request, exc: Exception) -> HTMLResponse:
            assert isinstance(exc, Refused)
            return render(request, refused_template, {"reason": exc.reason}, status_code=exc.status)
        app.add_exception_handler(Refused, refused)
    return app


def _publisher(view: LiveView, feed: Fanout) -> Handler:
    async def publish(event: dict[str, Any]) -> None:
        update = view.to_update(event)
        if update:
            feed.publish(update)
    return publish


def _stream(view: LiveView) -> Callable[[Request], Awaitable[Any]]:
    async def stream(request: Request) -> Any:
        web = parts(request)
        if view.admins_only:
            identity = web.verifier.identify(request.cookies.get(COOKIE_NAME))
            if identity is None or not identity.is_admin:
                return JSONResponse({"detail": "admin role required"}, status_code=403)
        return EventSourceResponse(web.feeds[view.path].sse_events(view.event), ping=15)
    stream.__doc__ = f"Server-sent `{view.event}` events from {', '.join(view.topics)}."
    return stream


async def healthz(request: Request) -> JSONResponse:
    """ok while every Kafka subscription is connected (an app without live views is always ok)."""
    ok = all(subscription.ready for subscription in parts(request).live)
    return JSONResponse({"status": "ok" if ok else "degraded", "checks": {"kafka": "ok" if ok else "down"}},
                        status_code=200 if ok else 503)

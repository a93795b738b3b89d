"""Wires the order service in one place: the adapters built from the settings (or handed in by a test),
the use cases on them, and which reactions follow which event.

`build` makes the `Services` (it does no I/O); the routes get them through the typed dependency
`deps.AppServices`; `running` starts and stops the background work (schema, relays, Kafka read models).
The fast tests build the same `Services` with fakes (`build(settings, engine=..., catalog=...)`).
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from festflow_contracts import events, messages
from festflow_contracts.channels import (
    ACCOUNT_EVENTS_TOPIC,
    AUTH_EVENTS_TOPIC,
    CATALOG_EVENTS_TOPIC,
    ORDER_EVENTS_TOPIC,
    TICKET_EVENTS_TOPIC,
)
from festflow_contracts.messages import WaitingRoomChanged
from festflow_contracts.tokens import TokenVerifier
from festflow_runtime.client_address import trusted_networks
from festflow_runtime.event_stream import Subscription, cancel_and_wait
from festflow_runtime.log_feed import LogFeed
from festflow_runtime.outbox import KafkaSender, OutboxRelay
from festflow_runtime.revocations import subscribe_revocations
from order_service import carts, db
from order_service.catalog import CatalogReadModel
from order_service.command_relay import CommandRelay, Publisher
from order_service.inventory_client import InventoryClient
from order_service.login import LoginPolicy
from order_service.ordering import Checkout, CheckoutWriter, Limits, VerifiedBuyers
from order_service.publisher import CommandPublisher
from order_service.read_model import OrderStatusProjection
from order_service.revocation_publisher import RevocationPublisher
from order_service.security import TokenIssuer, seed_demo_users
from order_service.settings import Settings
from order_service.waiting_gate import WaitingGate

log = logging.getLogger("order_service")


@dataclass
class Services:
    """Everything the routes and the background work of one order-service process use, made once."""
    settings: Settings
    engine: AsyncEngine
    limits: Limits
    verifier: TokenVerifier
    issuer: TokenIssuer
    inventory: InventoryClient
    catalog: CatalogReadModel
    checkout: Checkout
    publisher: Publisher
    commands: CommandRelay  # sends the command outbox; woken when a new command is written
    account_events: OutboxRelay  # sends the event outbox (account mails, ended sessions)
    event_sender: KafkaSender
    revocations: RevocationPublisher
    login_policy: LoginPolicy
    trusted_proxies: Sequence[IPv4Network | IPv6Network]
    status: OrderStatusProjection
    gate: WaitingGate  # the waiting room's passes at checkout, while the organiser has one on
    status_events: Subscription | None = None  # the read model's Kafka subscription, while running
    account_work: set[asyncio.Task] = field(default_factory=set)  # mails queued after their answer

    @property
    def mail_interval(self) -> timedelta:
        return timedelta(seconds=self.settings.account_mail_interval_seconds)


def status_projection(engine: AsyncEngine, limits: Limits) -> OrderStatusProjection:
    """The order status read model, with what else reacts to a rejected order: its cart gets its lines back."""
    return OrderStatusProjection(engine, on_rejected=[carts.GiveLinesBack(limits)])


def build(settings: Settings, *, engine: AsyncEngine | None = None, catalog: CatalogReadModel | None = None,
          inventory: InventoryClient | None = None, publisher: Publisher | None = None,
          verifier: TokenVerifier | None = None) -> Services:
    """The order service's Services from its settings; a test hands in fakes for any adapter."""
    engine = engine or db.make_engine(settings.database_url)
    limits = Limits(settings.max_quantity_per_item, settings.max_items_per_order)
    verifier = verifier or TokenVerifier(settings.public_key_pem())
    inventory = inventory or InventoryClient(settings.inventory_url, settings.internal_api_token)
    catalog = catalog or CatalogReadModel(inventory)
    publisher = publisher or CommandPublisher(settings.amqp_url)
    event_sender = KafkaSender(settings.kafka_bootstrap_servers, (ACCOUNT_EVENTS_TOPIC, AUTH_EVENTS_TOPIC))
    gate = WaitingGate(settings.waiting_room_secret)
    return Services(
        settings=settings, engine=engine, limits=limits, verifier=verifier,
        issuer=TokenIssuer(settings.private_key_pem(), settings.jwt_ttl_seconds, verifier),
        inventory=inventory, catalog=catalog,
        checkout=Checkout(engine, catalog, limits, CheckoutWriter(engine, VerifiedBuyers()), gate),
        publisher=publisher, commands=CommandRelay(engine, publisher),
        account_events=OutboxRelay(engine, db.event_outbox, event_sender, logging.getLogger("order_service.events")),
        event_sender=event_sender,
        revocations=RevocationPublisher(settings.kafka_bootstrap_servers),
        login_policy=LoginPolicy(address_lock_after=settings.login_address_lock_after,
                                 proof_after=settings.login_proof_after),
        trusted_proxies=trusted_networks(settings.trusted_proxies),
        status=status_projection(engine, limits), gate=gate,
    )


def catalog_events(services: Services) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """The catalog topic's handler: ticket types and the festival for the catalog, the waiting room for the
    checkout's gate."""
    async def apply(event: dict[str, Any]) -> None:
        if event.get("type") == events.WAITING_ROOM_CHANGED:
            services.gate.apply(messages.parse(event, WaitingRoomChanged))
        else:
            await services.catalog.apply(event)
    return apply


@asynccontextmanager
async def running(services: Services) -> AsyncIterator[None]:
    """The schema and demo accounts, then the background work: the catalog's snapshot and events, the
    command and event relays, logout revocations, and the order status read model; stopped in reverse."""
    settings = services.settings
    log_feed = LogFeed("order-service", settings.kafka_bootstrap_servers, ("order_service", "uvicorn.error"))
    log_feed.start()
    await db.create_schema(services.engine)
    await seed_demo_users(services.engine)
    catalog_task = asyncio.create_task(services.catalog.load_until_done(), name="catalog-snapshot")
    catalog_subscription = Subscription(settings.kafka_bootstrap_servers, (CATALOG_EVENTS_TOPIC,),
                                        catalog_events(services), group_id=None, from_beginning=True)
    catalog_subscription.start()
    if isinstance(services.publisher, CommandPublisher):
        await services.publisher.start()
    revocations_task = asyncio.create_task(services.revocations.run(), name="revocations")
    revoked = subscribe_revocations(settings.kafka_bootstrap_servers, services.verifier)
    revoked.start()
    relay_task = asyncio.create_task(services.commands.run(), name="command-relay")
    event_relay_task = asyncio.create_task(services.account_events.run(), name="event-relay")
    services.status_events = Subscription(
        settings.kafka_bootstrap_servers, (ORDER_EVENTS_TOPIC, TICKET_EVENTS_TOPIC), services.status.apply,
        batch_handler=services.status.apply_many, group_id="order-service-status", from_beginning=True)
    services.status_events.start()
    try:
        yield
    finally:
        if services.account_work:  # a reset answered a moment ago writes its link before the database closes
            await asyncio.wait(services.account_work, timeout=2)
        await services.status_events.stop()
        await catalog_subscription.stop()
        await cancel_and_wait(catalog_task)
        await cancel_and_wait(relay_task)
        await cancel_and_wait(event_relay_task)
        await services.event_sender.close()
        await revoked.stop()
        await cancel_and_wait(revocations_task)
        if isinstance(services.publisher, CommandPublisher):
            await services.publisher.close()
        await services.inventory.close()
        await services.engine.dispose()
        await log_feed.stop()

"""The order service's read model of what is on sale: snapshot plus events, newest version wins, and
no call to the inventory per order."""
import pytest

from festflow_contracts import events
from order_service.catalog import CatalogReadModel
from order_service.inventory_client import InventoryUnavailable
from order_service.views import public_festival


def ticket(ticket_id="vip", version=1, active=True, name="VIP Weekend"):
    return {"id": ticket_id, "name": name, "price_cents": 24900, "stock": 50, "version": version,
            "active": active}


class FakeInventory:
    def __init__(self, tickets):
        self.tickets_ = tickets
        self.calls = 0
        self.down = False

    async def tickets(self, include_retired=False):
        self.calls += 1
        if self.down:
            raise InventoryUnavailable("ticket catalog unavailable (ConnectError)")
        return list(self.tickets_)

    async def festival(self):
        if self.down:
            raise InventoryUnavailable("festival details unavailable (ConnectError)")
        return {"name": "Snapshot Fest", "starts_on": "", "ends_on": "", "venue": "", "address": "",
                "description": "", "banner_version": 0, "version": 3}


def changed(t):
    return events.new_event(events.TICKET_TYPE_CHANGED, "/t", {**t, "price": "249.00", "change": "updated"})


async def test_orders_are_checked_without_asking_the_inventory_each_time():
    inventory = FakeInventory([ticket()])
    catalog = CatalogReadModel(inventory)
    await catalog.load_until_done()
    for _ in range(5):
        assert list(await catalog.on_sale(["vip"])) == ["vip"]
    assert inventory.calls == 1
    inventory.down = True
    assert list(await catalog.on_sale(["vip"])) == ["vip"]  # the inventory away: checkout goes on


async def test_events_keep_it_current_and_an_older_version_never_wins():
    catalog = CatalogReadModel(FakeInventory([ticket(version=5)]))
    await catalog.refresh()
    await catalog.apply(changed(ticket(version=3, active=False)))  # an old event replayed from the topic
    assert "vip" in await catalog.on_sale(["vip"])
    await catalog.apply(changed(ticket(version=6, active=False)))  # retired now
    assert await catalog.on_sale(["vip"]) == {}
    await catalog.apply(changed(ticket("new", version=1, name="New Pass")))
    assert (await catalog.on_sale(["new"]))["new"]["name"] == "New Pass"


async def test_an_unknown_id_takes_a_new_snapshot_at_most_once_a_second():
    inventory = FakeInventory([ticket()])
    catalog = CatalogReadModel(inventory, refresh_interval=60)
    await catalog.refresh()
    inventory.tickets_.append(ticket("made-elsewhere"))
    assert await catalog.on_sale(["made-elsewhere"]) == {}  # refreshed a moment ago: no new call
    catalog.refresh_interval = 0
    assert "made-elsewhere" in await catalog.on_sale(["made-elsewhere"])
    assert inventory.calls == 2


async def test_before_the_first_snapshot_orders_are_refused_as_unavailable():
    inventory = FakeInventory([ticket()])
    inventory.down = True
    catalog = CatalogReadModel(inventory)
    with pytest.raises(InventoryUnavailable, match="not loaded yet"):
        await catalog.on_sale(["vip"])


async def test_the_inventorys_ticket_changed_sample_updates_what_is_on_sale():
    from festflow_contracts.fixtures import sample
    catalog = CatalogReadModel(FakeInventory([]))
    await catalog.refresh()
    changed = sample(events.TICKET_TYPE_CHANGED)
    await catalog.apply(sample("festflow.ticket.changed.v1", id="old-name"))  # a record from before the rename
    assert "old-name" in await catalog.on_sale(["old-name"])
    await catalog.apply(changed)
    assert changed["data"]["id"] in await catalog.on_sale([changed["data"]["id"]])


async def test_the_festival_comes_with_the_snapshot_and_the_newest_change_wins():
    from festflow_contracts.fixtures import sample
    catalog = CatalogReadModel(FakeInventory([ticket()]))
    await catalog.load_until_done()
    assert catalog.festival["name"] == "Snapshot Fest"
    await catalog.apply(sample(events.FESTIVAL_CHANGED, name="Older", version=2))
    assert catalog.festival["name"] == "Snapshot Fest"
    await catalog.apply(sample(events.FESTIVAL_CHANGED, name="Riverfest", version=4, iban="DE89370400440532013000",
                               payment_hold_minutes=20))
    assert catalog.festival["name"] == "Riverfest"
    shown = public_festival(catalog.festival)  # what GET /api/festival answers
    assert shown["iban"] == "DE89370400440532013000" and shown["payment_hold_minutes"] == 20
    older = sample(events.FESTIVAL_CHANGED, version=5)  # an inventory that does not send them yet
    for field in ("iban", "payment_hold_minutes", "bank_transfer_days"):
        older["data"].pop(field, None)
    await catalog.apply(older)
    assert public_festival(catalog.festival)["payment_hold_minutes"] == 15


async def test_a_ticket_type_keeps_its_description_and_sale_window():
    from festflow_contracts.fixtures import sample
    catalog = CatalogReadModel(FakeInventory([ticket()]))
    await catalog.load_until_done()
    await catalog.apply(sample(events.TICKET_TYPE_CHANGED, id="vip", version=9, description="Bar access",
                               sale_ends_at="2020-01-01T00:00Z"))
    assert catalog.tickets["vip"]["description"] == "Bar access"
    assert catalog.tickets["vip"]["sale_ends_at"] == "2020-01-01T00:00Z"

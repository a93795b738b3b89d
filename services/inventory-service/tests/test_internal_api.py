"""The inventory's internal API answers FestFlow's own services only (the shared service token)."""
from contextlib import asynccontextmanager

from fastapi.testclient import TestClient

from inventory_service import bootstrap, db
from inventory_service.main import create_app
from inventory_service.settings import Settings


def test_a_caller_without_the_service_token_is_refused(tmp_path):
    settings = Settings(internal_api_token="s3cret", database_url=f"sqlite+aiosqlite:///{tmp_path / 'inventory.db'}")
    services = bootstrap.build(settings)  # as the service wires itself, on a test database
    app = create_app(services=services)

    @asynccontextmanager
    async def database_only(_app):  # instead of bootstrap.running: no broker is started
        await db.create_schema(services.engine)
        await db.seed(services.engine)
        yield
        await services.engine.dispose()
    app.router.lifespan_context = database_only
    with TestClient(app) as c:
        assert c.get("/internal/tickets").status_code == 401
        assert c.get("/internal/tickets", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.patch("/internal/tickets/vip-weekend", json={"price": "0.01"}).status_code == 401
        ok = c.get("/internal/tickets", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and "vip-weekend" in {t["id"] for t in ok.json()}

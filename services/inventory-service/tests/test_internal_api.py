"""The inventory's internal API answers FestFlow's own services only (the shared service token)."""

from fastapi import FastAPI
from fastapi.testclient import TestClient

from inventory_service import db
from inventory_service.api import internal
from inventory_service.settings import Settings


def test_a_caller_without_the_service_token_is_refused(tmp_path):
    app = FastAPI()
    app.include_router(internal)
    app.state.settings = Settings(internal_api_token="s3cret")
    with TestClient(app) as c:
        async def prepare():
            engine = db.make_engine(f"sqlite+aiosqlite:///{tmp_path / 'inventory.db'}")
            await db.create_schema(engine)
            await db.seed(engine)
            return engine
        app.state.engine = c.portal.call(prepare)
        assert c.get("/internal/tickets").status_code == 401
        assert c.get("/internal/tickets", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.patch("/internal/tickets/vip-weekend", json={"price": "0.01"}).status_code == 401
        ok = c.get("/internal/tickets", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and "vip-weekend" in {t["id"] for t in ok.json()}
        c.portal.call(app.state.engine.dispose)

"""An app's `/healthz` answer: each check "ok" or what is wrong; 200 when all are ok, 503 (degraded) when not."""
from __future__ import annotations

from fastapi.responses import JSONResponse


def health_answer(checks: dict[str, str]) -> JSONResponse:
    healthy = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ok" if healthy else "degraded", "checks": checks},
                        status_code=200 if healthy else 503)

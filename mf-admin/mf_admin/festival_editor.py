"""The festival's details (name, dates, venue, address, description) and its banner image."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from festflow_runtime.api_answers import field_errors, reason
from festflow_runtime.fragment_app import render
from festflow_runtime.web_auth import AdminUser
from mf_admin.web import order_api

router = APIRouter()
FESTIVAL_FIELDS = ("name", "starts_on", "ends_on", "venue", "address", "description")
PAYMENT_FIELDS = ("card_payments", "payment_hold_minutes", "bank_transfer_days",
                  "late_payment_days", "beneficiary", "iban", "bic",
                  "vat_id", "seller_address")


async def _festival_editor(request: Request, message: str | None = None, errors: dict[str, str] | None = None,
                           draft: dict[str, str] | None = None) -> HTMLResponse:
    festival = await order_api(request, "GET", "/api/festival")
    if not festival.ok:
        return render(request, "festival_editor.html", {"festival": None, "message": None,
                                                        "errors": {"form": reason(festival.body)}})
    return render(request, "festival_editor.html", {"festival": {**festival.body, **(draft or {})},
                                                    "message": message, "errors": errors or {}})


@router.get("/admin/fragments/v1/festival-editor", response_class=HTMLResponse)
async def festival_editor(request: Request, _admin: AdminUser):
    return await _festival_editor(request)


@router.post("/admin/festival", response_class=HTMLResponse)
async def save_festival(request: Request, _admin: AdminUser):
    return await _save(request, FESTIVAL_FIELDS, "Saved: buyers see the new details now.")


@router.post("/admin/festival/payments", response_class=HTMLResponse)
async def save_payments(request: Request, _admin: AdminUser):
    return await _save(request, PAYMENT_FIELDS, "Saved: payments and invoices use these from now on.")


async def _save(request: Request, fields: tuple[str, ...], done: str) -> HTMLResponse:
    form = await request.form()
    body = {field: str(form.get(field, "")).strip() for field in fields}
    saved = await order_api(request, "PATCH", "/api/admin/festival", body)
    if not saved.ok:
        return await _festival_editor(request, errors=field_errors(saved.body, fields), draft=body)
    return await _festival_editor(request, message=done)


@router.post("/admin/festival/banner", response_class=HTMLResponse)
async def upload_banner(request: Request, _admin: AdminUser):
    form = await request.form()
    upload = form.get("banner")
    data = await upload.read() if upload is not None and not isinstance(upload, str) else b""
    if not data:
        return await _festival_editor(request, errors={"banner": "Choose an image file first."})
    return await _banner(request, "PUT", data, "Banner uploaded.")


@router.post("/admin/festival/banner/remove", response_class=HTMLResponse)
async def remove_banner(request: Request, _admin: AdminUser):
    return await _banner(request, "DELETE", b"", "Banner removed.")


async def _banner(request: Request, method: str, data: bytes, done: str) -> HTMLResponse:
    changed = await order_api(request, method, "/api/admin/festival/banner", content=data,
                              headers={"Content-Type": "application/octet-stream"})
    if not changed.ok:
        return await _festival_editor(request, errors={"banner": reason(changed.body)})
    return await _festival_editor(request, message=done)

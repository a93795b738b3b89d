"""The organiser's payments: a bank statement imported (CAMT.053, MT940 or CSV, through the payment service),
what it did, the statement lines a person must look at, each with its reason, and the bank refunds due, sent
to the bank as one SEPA file."""
from __future__ import annotations

import httpx
from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from festflow_runtime.api_answers import reason
from festflow_runtime.fragment_app import parts, render
from festflow_runtime.web_auth import AdminUser, bearer
from mf_admin.web import payment_api

router = APIRouter()


async def _payments(request: Request, message: str | None = None, error: str | None = None) -> HTMLResponse:
    """The fragment, with what an action did or why it could not (always 200: HTMX swaps only a 2xx in)."""
    review = await payment_api(request, "GET", "/api/admin/payments/review")
    refunds = await payment_api(request, "GET", "/api/admin/payments/refunds")
    if not review.ok:
        error = "; ".join(filter(None, [error, reason(review.body)]))
    due = refunds.body if refunds.ok else []
    return render(request, "payments.html", {"lines": review.body if review.ok else [], "message": message,
                                             "error": error, "refunds": due,
                                             "sendable": [r for r in due if not r["by_hand"]]})


@router.get("/admin/fragments/v1/payments", response_class=HTMLResponse)
async def payments_page(request: Request, _admin: AdminUser):
    return await _payments(request)


@router.post("/admin/payments/bank-statements", response_class=HTMLResponse)
async def import_statement(request: Request, _admin: AdminUser, statement: UploadFile | None = None):
    """Passes the file on to the payment service and says what it did, or why it could not."""
    if statement is None or not (data := await statement.read()):
        return await _payments(request, error="Choose the bank statement file first (CAMT.053, MT940 or CSV).")
    done = await payment_api(request, "POST", "/api/admin/payments/bank-statements",
                             files={"file": (statement.filename or "statement", data,
                                             statement.content_type or "application/octet-stream")})
    if not done.ok:
        return await _payments(request, error=f"Not imported: {reason(done.body)}")
    r = done.body
    return await _payments(request, message=(
        f"{r['format'].upper()} imported: {r['matched']} paid an order, {r['review']} for review, "
        f"{r['unmatched']} matched no order, {r['duplicates']} read before (nothing paid twice)."))


@router.post("/admin/payments/refunds.xml")
async def refunds_file(request: Request, _admin: AdminUser):
    """The due bank refunds as a SEPA file for the organiser's bank (a download; each refund in it is marked
    sent). Without one to send, back to the page, which lists what is due and why."""
    try:
        resp = await parts(request).api("payments").post("/api/admin/payments/refunds/sepa", headers=bearer(request))
    except httpx.HTTPError:
        return RedirectResponse("/admin/payments", status_code=303)
    if resp.status_code != 200:
        return RedirectResponse("/admin/payments", status_code=303)
    return Response(resp.content, media_type="application/xml", headers={
        "Content-Disposition": 'attachment; filename="festflow-refunds.xml"', "Cache-Control": "no-store"})

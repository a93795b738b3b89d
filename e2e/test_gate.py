"""The gate in Chromium: a staff member opens /gate on a phone whose camera shows a ticket's QR code
(Chromium's fake camera plays a video the test makes from the QR image) and sees ADMITTED; the same ticket
again shows when and where it was used."""
import io

import pytest
import segno
from PIL import Image
from playwright.sync_api import expect
from test_browser import log_in
from test_tickets import bought, staff_token

from e2e_helpers import CHROMIUM_ARGS, bearer, eventually

pytestmark = pytest.mark.stack
WIDTH, HEIGHT = 640, 480


def y4m_of(payload: str, path) -> None:
    """A few frames of the QR code, as a raw YUV 4:2:0 video Chromium's fake camera plays in a loop."""
    buffer = io.BytesIO()
    segno.make(payload, error="m").save(buffer, kind="png", scale=5, border=4)
    qr = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    qr.thumbnail((HEIGHT - 40, HEIGHT - 40))
    frame = Image.new("RGB", (WIDTH, HEIGHT), "white")
    frame.paste(qr, ((WIDTH - qr.width) // 2, (HEIGHT - qr.height) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (WIDTH // 2, HEIGHT // 2)
    planes = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(10):
            out.write(b"FRAME\n" + planes)


def test_a_staff_member_scans_a_ticket_with_the_phone_camera(api, admin_token, gateway, tmp_path, browser):
    _, _, token, ticket, order = bought(api, admin_token, 1)
    code = order["tickets"][0]["code"]
    payload = api.get(f"/api/tickets/{code}", headers=bearer(token)).json()["qr"]
    video = tmp_path / "qr.y4m"
    y4m_of(payload, video)
    staff = staff_token(api, admin_token)
    staff_name = api.get("/api/auth/me", headers=bearer(staff)).json()["username"]
    organiser = browser.new_context(base_url=gateway)
    dashboard = organiser.new_page()
    log_in(dashboard, "admin", "admin123")
    dashboard.goto("/admin/")
    expect(dashboard.locator("body")).to_have_attribute("data-admin-live", "true")
    checked_in = dashboard.locator(f'.admin_remaining [data-ticket-id="{ticket["id"]}"] [data-role="checked-in"]')
    expect(checked_in).to_have_text("0 / 1")
    # a second Chromium, whose camera plays the video (the session's Playwright launches it)
    phone = browser.browser_type.launch(executable_path="/usr/bin/chromium", args=[
        *CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}"])
    try:
        context = phone.new_context(base_url=gateway, viewport={"width": 390, "height": 844}, is_mobile=True)
        context.grant_permissions(["camera"], origin=gateway)
        page = context.new_page()
        page.set_default_timeout(20_000)
        log_in(page, staff_name, "gate-staff-pass")
        page.goto("/gate/")
        page.get_by_label("This gate's name").fill("North")
        page.get_by_role("button", name="Set gate").click()
        page.get_by_role("button", name="Start camera").click()
        expect(page.locator("#gate-scanner")).to_have_attribute("data-camera", "on")
        expect(page.locator("#gate-verdict")).to_have_text("ADMITTED")
        expect(page.locator("#gate-result")).to_have_attribute("data-result", "admitted")
        expect(page.locator("#gate-who")).to_contain_text(ticket["name"])
        expect(page.locator("#gate-count")).to_have_text("1")
        expect(checked_in).to_have_text("1 / 1")  # the organiser's dashboard, without a reload
        # the same ticket stays in view: read again a few seconds later, it is refused with when and where
        expect(page.locator("#gate-verdict")).to_have_text("ALREADY USED", timeout=20_000)
        expect(page.locator("#gate-who")).to_contain_text("gate North")
        expect(page.locator("#gate-count")).to_have_text("1")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        phone.close()
        organiser.close()
    eventually(lambda: api.get(f"/api/orders/{order['order_id']}", headers=bearer(token)).json()["tickets"][0]
               ["status"] == "used", what="the order to show its ticket used")
    used = api.get(f"/api/tickets/{code}", headers=bearer(token)).json()
    assert used["status"] == "used" and used["gate"] == "North"


def test_a_buyer_cannot_open_the_scanner(page, api, guest_token):
    log_in(page, "guest", "festflow")
    page.goto("/gate/")
    expect(page.locator("#gate-scanner")).to_contain_text("Only gate staff and organisers")
    expect(page.locator("#gate-video")).to_have_count(0)

"""The real stack for integration and end-to-end tests: the `test` profile of festflow_devstack
(its own ports, fresh data), started once per session, stopped at the end."""
from __future__ import annotations

import httpx
import pytest

from e2e_helpers import CHROMIUM_ARGS, login
from festflow_devstack.profiles import get_profile
from festflow_devstack.stack import Stack


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.stack)


@pytest.fixture(scope="session")
def stack():
    stack = Stack(get_profile("test"), quiet=True)
    stack.start()
    stack.supervisor.watch()  # parts heal as under `make run`
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def profile(stack):
    return stack.profile


@pytest.fixture(scope="session")
def gateway(profile) -> str:
    return profile.url("gateway")


@pytest.fixture(scope="session")
def _api_client(gateway):
    with httpx.Client(base_url=gateway, timeout=10) as client:
        yield client


@pytest.fixture
def api(_api_client):
    """An HTTP client on the gateway that starts every test without cookies."""
    _api_client.cookies.clear()
    yield _api_client
    _api_client.cookies.clear()


@pytest.fixture(scope="session")
def guest_token(_api_client) -> str:
    return login(_api_client, "guest", "festflow")


@pytest.fixture(scope="session")
def admin_token(_api_client) -> str:
    return login(_api_client, "admin", "admin123")




@pytest.fixture(scope="session")
def browser(stack):
    """Debian's Chromium driven by Playwright (never `playwright install`: no downloads here)."""
    from playwright.sync_api import expect, sync_playwright

    # a full run shares 2 cores with brokers and nine apps: give asynchronous outcomes room
    expect.set_options(timeout=15_000)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, gateway):
    context = browser.new_context(base_url=gateway)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()

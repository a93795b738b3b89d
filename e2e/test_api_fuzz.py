"""Property-based fuzzing of the order API's own OpenAPI document with schemathesis (its CLI, on the test
stack), admin API and cart included: whatever a client sends, valid or not, the answer is never a server error."""
import subprocess
import sys
from pathlib import Path

import pytest

from e2e_helpers import bearer, login

pytestmark = pytest.mark.stack


def test_no_input_makes_the_order_api_fail(profile, _api_client):
    token = login(_api_client, "admin", "admin123")
    st = Path(sys.executable).with_name("st")
    done = subprocess.run(
        [str(st), "run", profile.url("order", "/openapi.json"), "--checks", "not_a_server_error",
         # Idempotency-Key is left to schemathesis: it varies it like every other input
         "--header", f"Authorization: Bearer {token}",
         # logging out (here, or everywhere) would end the admin's session that the other tests share
         "--max-examples", "40", "--exclude-path", "/api/auth/logout", "--exclude-path", "/api/auth/logout-everywhere",
         "--seed", "20261126", "--no-color"],
        capture_output=True, text=True, timeout=300,
    )
    summary = done.stdout[-3000:]
    assert done.returncode == 0, summary
    assert " passed" in summary and "failed" not in summary.split("SUMMARY")[-1], summary
    assert _api_client.get("/api/auth/me", headers=bearer(token)).status_code == 200  # the session still lives

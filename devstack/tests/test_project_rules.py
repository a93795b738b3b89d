"""Rules of the code base that keep the apps apart and their configuration in one place per app."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# package -> its folder; each is deployed alone and talks to the others only over the wire
APPS = {
    "order_service": "services/order-service", "inventory_service": "services/inventory-service",
    "email_function": "services/email-function", "notification_hub": "services/notification-hub",
    "ticketing_service": "services/ticketing-service",
    "mail_sink": "services/mail-sink", "shell_app": "shell-app", "mf_catalog": "mf-catalog",
    "mf_cart": "mf-cart", "mf_admin": "mf-admin", "mf_gate": "mf-gate",
}


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / APPS[package] / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_every_app_is_listed():
    folders = {p.parent.parent.relative_to(ROOT).as_posix() for p in ROOT.glob("*/*/main.py")}
    folders |= {p.parent.parent.relative_to(ROOT).as_posix() for p in ROOT.glob("services/*/*/main.py")}
    assert folders == set(APPS.values())


@pytest.mark.parametrize("package", sorted(APPS))
def test_no_app_imports_another(package):
    others = set(APPS) - {package}
    for path in _sources(package):
        assert not _imports(path) & others, f"{path.relative_to(ROOT)} imports {_imports(path) & others}"


@pytest.mark.parametrize("package", sorted(APPS))
def test_an_app_reads_its_environment_only_in_its_settings_class(package):
    for path in _sources(package):
        text = path.read_text()
        if path.name == "settings.py":
            assert "class Settings(PlatformSettings)" in text
            continue
        assert "os.environ" not in text and "getenv" not in text, f"{path.relative_to(ROOT)} reads the environment"


def test_the_libraries_read_no_environment():
    for path in [*(ROOT / "libs/contracts/festflow_contracts").rglob("*.py"),
                 *(ROOT / "libs/runtime/festflow_runtime").rglob("*.py")]:
        if path.name in {"settings.py", "fixtures.py"}:  # the settings base; the fixture writer's test switch
            continue
        assert "os.environ" not in path.read_text(), path

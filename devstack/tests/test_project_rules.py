"""Rules of the code base that keep the apps apart and their configuration in one place per app."""
import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# package -> its folder; each is deployed alone and talks to the others only over the wire
APPS = {
    "order_service": "services/order-service", "inventory_service": "services/inventory-service",
    "email_function": "services/email-function", "notification_hub": "services/notification-hub",
    "ticketing_service": "services/ticketing-service", "payment_service": "services/payment-service",
    "waiting_room": "services/waiting-room",
    "mail_sink": "services/mail-sink", "shell_app": "shell-app", "mf_catalog": "mf-catalog",
    "mf_cart": "mf-cart", "mf_admin": "mf-admin", "mf_gate": "mf-gate", "mf_account": "mf-account",
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


def _tracked(*patterns: str) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "--", *patterns], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / line for line in listed.stdout.splitlines() if (ROOT / line).is_file()]


def _route_modules() -> list[Path]:
    return sorted(p for package in APPS for p in _sources(package) if p.name.startswith("routes_"))


def test_route_modules_import_no_other_route_module():
    """A route module translates HTTP to a use case; what two routes share lives in a module of its own."""
    for path in _route_modules():
        imported = {name.split(".")[-1] for name in _imported_modules(path)}
        others = {p.stem for p in path.parent.glob("routes_*.py")} - {path.stem}
        assert not imported & others, f"{path.relative_to(ROOT)} imports {imported & others}"


def _imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


VENDOR_LIST = ROOT / "docs/third-party.md"


def _vendor_folders() -> set[Path]:
    """Each `vendor/<name>-<version>/` folder in the tree (the files git tracks)."""
    folders = set()
    for path in _tracked("*"):
        parts = path.relative_to(ROOT).parts
        if "vendor" in parts[:-1]:
            at = parts.index("vendor")
            if at + 2 < len(parts):
                folders.add(ROOT.joinpath(*parts[:at + 2]))
    return folders


def test_every_vendor_folder_is_listed_with_its_licence():
    folders = _vendor_folders()
    assert folders, "no vendor folder found"
    listed = VENDOR_LIST.read_text()
    for folder in folders:
        name = folder.relative_to(ROOT).as_posix()
        assert f"`{name}/`" in listed, f"{name} is not listed in {VENDOR_LIST.name}"
        assert re.fullmatch(r"[a-z0-9-]+-\d+\.\d+\.\d+", folder.name), f"{name}: name it <package>-<version>"
        assert any(p.name.startswith("LICENSE") for p in folder.iterdir()), f"{name} has no LICENSE file"
    for row in re.findall(r"^\| `([^`]+)/` \|", listed, re.M):
        assert ROOT / row in folders, f"{VENDOR_LIST.name} lists {row}, which is not in the tree"


def test_no_vendor_folder_holds_the_projects_code_and_no_third_party_file_sits_outside_one():
    for folder in _vendor_folders():
        assert not list(folder.rglob("*.py")) and not list(folder.rglob("*.html")), f"{folder}: the project's code"
    for path in _tracked("*.js", "*.css"):
        rel = path.relative_to(ROOT)
        if "vendor" in rel.parts:
            continue
        head = path.read_text(errors="replace")[:2000]
        assert path.stat().st_size < 60_000 and "@license" not in head and "Copyright" not in head, (
            f"{rel} looks like a third-party file: put it in a vendor/<name>-<version>/ folder")


SESSION_TALK = re.compile(
    r"\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|working) session\b|\bsession notes?\b|"
    r"\b(before|after|start of|end of) issue\b|\bissue #?\d+",
    re.I)


def test_no_file_talks_about_working_sessions():
    """The tree speaks to its users and engineers of now; how it got here is in git."""
    kinds = ("*.md", "*.py", "*.html", "*.js", "*.css", "*.toml", "*.yml", "*.sh", "*.template", "Makefile")
    for path in _tracked(*kinds):
        if "vendor" in path.relative_to(ROOT).parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not SESSION_TALK.search(line), f"{path.relative_to(ROOT)}:{number}: {line.strip()}"


def test_the_readme_is_a_users_document():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250, "README.md is for users: keep it short, put the rest in docs/"
    assert "make run" in readme and "make test" in readme
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / link).is_file(), f"README.md links to {link}, which does not exist"


WIRED_BY_BOOTSTRAP = ["order_service", "inventory_service", "ticketing_service", "payment_service", "waiting_room"]
ROUTE_MODULES = {"routes_", "api.py", "checkout_http.py", "checkout_lane.py"}


@pytest.mark.parametrize("package", WIRED_BY_BOOTSTRAP)
def test_a_services_routes_get_its_parts_through_a_typed_dependency_not_app_state(package):
    """bootstrap.py builds the parts once; routes take them as the typed `AppServices`, so nothing reaches into
    the untyped `app.state` but the one dependency that hands the Services out."""
    assert (ROOT / APPS[package] / package / "bootstrap.py").is_file()
    for path in _sources(package):
        if any(path.name.startswith(name) for name in ROUTE_MODULES):
            text = path.read_text().replace("return request.app.state.services", "")
            assert "app.state" not in text and "state: Any" not in text, f"{path.relative_to(ROOT)} reads app.state"


@pytest.mark.parametrize("package", ["shell_app", "mf_catalog", "mf_cart", "mf_admin", "mf_gate", "mf_account"])
def test_a_micro_frontend_is_built_on_the_shared_skeleton_and_its_main_is_short(package):
    main = ROOT / APPS[package] / package / "main.py"
    assert "create_fragment_app(" in main.read_text() and len(main.read_text().splitlines()) <= 150
    for path in _sources(package):  # the skeleton holds the lifespan, the health check and the subscriptions
        text = path.read_text()
        assert "lifespan" not in text and "Subscription(" not in text and '"/healthz"' not in text, path.name

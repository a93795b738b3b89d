"""Pages and fragments, tested from both sides: every page a micro-frontend's CONTRACT.md lists is served by
it, in the shell's frame, and includes exactly the fragments listed, each with a stub; every fragment
included is listed by the app that provides it; and the gateway routes every prefix to its owner."""
import importlib
import re
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from jose import jwt

from festflow_contracts.tokens import AUDIENCE, ISSUER, generate_keypair
from festflow_devstack.profiles import REPO_ROOT
from festflow_runtime.fragment_app import OfflineEvents

# folder -> (package, the prefix it owns)
APPS = {"shell-app": ("shell_app", "shell"), "mf-catalog": ("mf_catalog", "catalog"), "mf-cart": ("mf_cart", "cart"),
        "mf-admin": ("mf_admin", "admin"), "mf-gate": ("mf_gate", "gate"), "mf-account": ("mf_account", "account")}
OWNER = {prefix: folder for folder, (_, prefix) in APPS.items()}
FRAME = {"/shell/fragments/v1/head", "/shell/fragments/v1/header", "/shell/fragments/v1/footer"}
SAMPLES = {"{order_id}": "0b9c2d4e-1f2a-4b3c-8d4e-5f6a7b8c9d0e", "{code}": "ABCDEFGHJK0123456789"}
INCLUDE = re.compile(r'<!--# include virtual="([^"]+)"(?: stub="([^"]+)")? -->')
KEYS = generate_keypair()


def contract(folder: str) -> str:
    return (REPO_ROOT / folder / "CONTRACT.md").read_text()


def table(text: str, heading: str) -> list[list[str]]:
    """The rows of the table under `## heading`, each a list of its cells."""
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0] if f"## {heading}\n" in text else ""
    rows = [line.strip().strip("|").split("|") for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in row] for row in rows]


def pages() -> list[tuple[str, str, list[str]]]:
    """(app folder, page path, the fragments it includes) for every page every CONTRACT.md lists."""
    found = []
    for folder in APPS:
        for row in table(contract(folder), "Pages"):
            found.append((folder, row[0].strip("`"), re.findall(r"`([^`]+)`", row[2])))
    return found


def sample(path: str) -> str:
    for name, value in SAMPLES.items():
        path = path.replace(name, value)
    return path


def listed_fragment(path: str) -> bool:
    """Whether the fragment at `path` (parameters and ids as in a contract) is listed by its provider."""
    bare = path.split("?", 1)[0]
    for name, value in SAMPLES.items():
        bare = bare.replace(value, name)
    provider = OWNER[bare.split("/")[1]]
    return any(row[0].strip("`") == bare for row in table(contract(provider), "Fragments"))


@pytest.fixture(scope="module")
def clients():
    admin = jwt.encode({"sub": "admin", "role": "admin", "email": "a@x.org", "iss": ISSUER, "aud": AUDIENCE,
                        "iat": int(time.time()), "exp": int(time.time()) + 600, "jti": "j"}, KEYS[0],
                       algorithm="RS256")
    away = httpx.MockTransport(lambda request: httpx.Response(503, json={"detail": "away"}))
    made = {}
    for folder, (package, _) in APPS.items():
        main = importlib.import_module(f"{package}.main")
        settings = importlib.import_module(f"{package}.settings").Settings(jwt_public_key=KEYS[1])
        kwargs = {} if package == "mf_gate" else {"order_api_transport": away}
        client = TestClient(main.create_app(settings, subscribe=OfflineEvents(), **kwargs))
        client.__enter__()
        client.cookies.set("festflow_token", admin)
        made[folder] = client
    yield made
    for client in made.values():
        client.__exit__(None, None, None)


def test_every_micro_frontend_lists_its_pages():
    assert {folder for folder, _, _ in pages()} == set(APPS)


@pytest.mark.parametrize("folder,path,listed", pages(), ids=[f"{f}:{p}" for f, p, _ in pages()])
def test_a_page_is_served_in_the_frame_with_the_fragments_its_contract_lists(clients, folder, path, listed):
    resp = clients[folder].get(sample(path), follow_redirects=False)
    assert resp.status_code < 500 and resp.headers["content-type"].startswith("text/html"), resp.status_code
    html = resp.text
    includes = INCLUDE.findall(html)
    assert {virtual for virtual, _ in includes} >= FRAME
    own = [(virtual, stub) for virtual, stub in includes if virtual not in FRAME]
    assert [virtual.split("?", 1)[0] for virtual, _ in own] == [sample(p) for p in listed]
    for virtual, stub in own:
        assert stub and html.index(f'<!--# block name="{stub}" -->') < html.index(f'include virtual="{virtual}"')
        assert listed_fragment(virtual), f"{virtual} is not in its provider's CONTRACT.md"


def test_the_frames_fragments_and_what_they_include_are_listed(clients):
    header = clients["shell-app"].get("/shell/fragments/v1/header").text
    for virtual, _ in INCLUDE.findall(header):
        assert listed_fragment(virtual), virtual
    for path in FRAME:
        assert listed_fragment(path) and clients["shell-app"].get(path).status_code == 200


def test_the_gateway_routes_each_prefix_to_its_owner_with_ssi_on():
    gateway = (REPO_ROOT / "gateway" / "nginx.conf.template").read_text()
    for _, prefix in APPS.values():
        upstream = "shell_app" if prefix == "shell" else f"mf_{prefix}"
        block = re.search(rf"location /{prefix}/ \{{(.*?)\}}", gateway, re.S)
        assert block and f"proxy_pass http://{upstream};" in block.group(1), prefix
        if prefix != "shell":  # the shell's pages are /login and the not-found page, routed on their own
            assert "ssi on;" in block.group(1), prefix

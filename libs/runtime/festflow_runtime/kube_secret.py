"""`python -m festflow_runtime.kube_secret NAME DIR`: makes the Kubernetes Secret NAME (in the pod's own
namespace) hold each file of DIR under its file name, unless the Secret is there already: keys made once
(the chart's keys Job runs each app's keygen into DIR first) survive every upgrade. It speaks to the API
server with the pod's service account, which may create Secrets and nothing more (the chart's Role)."""
from __future__ import annotations

import base64
import json
import ssl
import sys
import urllib.error
import urllib.request
from pathlib import Path

from festflow_runtime.settings import JobSettings

ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def secret_manifest(name: str, files: dict[str, bytes]) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "festflow"}},
            "data": {key: base64.b64encode(value).decode() for key, value in sorted(files.items())}}


def create_once(api: str, namespace: str, token: str, name: str, files: dict[str, bytes],
                context: ssl.SSLContext | None = None) -> bool:
    """Creates the Secret; False when one of that name exists already (left as it is)."""
    request = urllib.request.Request(
        f"{api}/api/v1/namespaces/{namespace}/secrets", method="POST",
        data=json.dumps(secret_manifest(name, files)).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30, context=context):
            return True
    except urllib.error.HTTPError as refused:
        if refused.code == 409:
            return False
        raise RuntimeError(f"the API server refused the Secret {name}: {refused.code} {refused.read()[:300]!r}"
                           ) from None


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python -m festflow_runtime.kube_secret NAME DIR", file=sys.stderr)
        return 2
    name, folder = argv[1], Path(argv[2])
    files = {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}
    if not files:
        print(f"{folder} holds no file to keep in {name}", file=sys.stderr)
        return 2
    settings = JobSettings()
    if not settings.kubernetes_service_host:
        print("not in a Kubernetes pod: KUBERNETES_SERVICE_HOST is not set", file=sys.stderr)
        return 2
    api = f"https://{settings.kubernetes_service_host}:{settings.kubernetes_service_port}"
    context = ssl.create_default_context(cafile=str(ACCOUNT / "ca.crt"))
    made = create_once(api, (ACCOUNT / "namespace").read_text().strip(), (ACCOUNT / "token").read_text().strip(),
                       name, files, context)
    print(f"Secret {name}: {'made with ' + ', '.join(sorted(files)) if made else 'there already, kept'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Fixtures of the deploy tooling's tests: a moto_server per test (moto
stands in for AWS: ECS, EC2, IAM, CloudFormation, Service Quotas, STS)."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "scripts" / "tests"))

from fake_sam import overrides  # noqa: E402,F401 (the tests read sam's arguments with it)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def moto(monkeypatch, tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        # What moto does not serve answers at once, not after retries.
        "AWS_MAX_ATTEMPTS": "1",
        "FAKE_SAM_LOG": str(tmp_path / "sam.log"),
        "SAM": f"{sys.executable} {ROOT / 'scripts' / 'tests' / 'fake_sam.py'}",
        "CUSTOMERS_IMAGE": "123456789012.dkr.ecr.us-east-1.amazonaws.com/customers-api@sha256:" + "c" * 64,
        "ORDERS_IMAGE": "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders-api@sha256:" + "0" * 64,
    }
    for k in list(os.environ):
        if k.startswith("DEPLOY_") or k.startswith("AWS_PROFILE"):
            monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    yield env
    server.terminate()
    server.wait(timeout=10)


def set_task_progression(endpoint: str, progression: str, times: int = 1) -> None:
    """moto's ECS tasks start RUNNING and move a state per DescribeTasks
    ("immediate"); "manual" with many times keeps them RUNNING."""
    body = {"model_name": "ecs::task", "transition": {"progression": progression, "times": times}}
    req = urllib.request.Request(endpoint + "/moto-api/state-manager/set-transition",
                                 data=json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(req).read()


def sam_calls(env) -> list[list[str]]:
    path = Path(env["FAKE_SAM_LOG"])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]

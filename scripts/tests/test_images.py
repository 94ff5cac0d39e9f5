"""scripts/images.sh with stand-ins for docker and the AWS CLI (a recording
script each, first on PATH), in a clone of this repository: immutable
repositories with a lifecycle policy, images named by digest, a dirty tree
refused, a tag already pushed not built again."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

DIGEST = "sha256:" + "d" * 64

STAND_IN = r"""#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$CALLS"
if [ "$(basename "$0")" = aws ]; then
  case "$*" in
    *describe-images*) if [ -e "$PUSHED/$(echo "$*" | sed 's/.*--repository-name \([^ ]*\).*/\1/')" ]; then echo "$DIGEST"; else exit 254; fi ;;
    *describe-repositories*) exit 254 ;;
    *get-login-password*) echo password ;;
  esac
else
  case "$1" in
    image) echo "${IMAGE_ARCH:-arm64}" ;;
    push) touch "$PUSHED/$(echo "$2" | sed 's|.*/\([^:]*\):.*|\1|')" ;;
    login) cat >/dev/null ;;
  esac
fi
"""


@pytest.fixture
def clone(tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", "--local", str(ROOT), str(repo)], check=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("aws", "docker"):
        (bin_dir / name).write_text(STAND_IN)
        (bin_dir / name).chmod(0o755)
    pushed = tmp_path / "pushed"
    pushed.mkdir()
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", CALLS=str(tmp_path / "calls"),
               PUSHED=str(pushed), DIGEST=DIGEST, AWS_ACCOUNT_ID="123456789012", RDS_CA_SHA256="0" * 64,
               DOCKER_BUILDKIT="0")
    env.pop("TAG", None)
    return repo, env, tmp_path / "calls", pushed


def images(repo, env):
    return subprocess.run(["bash", "scripts/images.sh"], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=60)


def test_a_clean_tree_ships_immutable_images_named_by_digest(clone):
    repo, env, calls, _ = clone
    done = images(repo, env)
    assert done.returncode == 0, done.stderr
    exports = [line for line in done.stdout.splitlines() if line.startswith("export ")]
    registry = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    assert exports == [f"export CUSTOMERS_IMAGE={registry}/customers-api@{DIGEST}",
                       f"export ORDERS_IMAGE={registry}/orders-api@{DIGEST}",
                       "export DEPLOY_TASK_ARCH=ARM64"]
    log = calls.read_text()
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=repo, capture_output=True,
                          text=True).stdout.strip()
    assert f"customers-api:{head}-arm64" in log
    for svc in ("customers-api", "orders-api"):
        assert f"create-repository --region us-east-1 --repository-name {svc} --image-tag-mutability IMMUTABLE" in log
        assert f"put-image-tag-mutability --region us-east-1 --repository-name {svc} --image-tag-mutability IMMUTABLE" in log
    policy = json.loads(log.split("--lifecycle-policy-text ", 1)[1].splitlines()[0])
    assert [r["action"]["type"] for r in policy["rules"]] == ["expire", "expire"]


def test_a_dirty_tree_never_ships_under_the_commits_tag(clone):
    repo, env, calls, _ = clone
    (repo / "README.md").write_text("changed\n")
    done = images(repo, env)
    assert done.returncode == 1
    assert "uncommitted changes" in done.stderr
    assert not calls.exists() or "docker build" not in calls.read_text()
    # A name of the user's own is no commit's tag.
    done = images(repo, {**env, "TAG": "hotfix-1"})
    assert done.returncode == 0, done.stderr
    assert "customers-api:hotfix-1-arm64" in calls.read_text()


def test_a_tag_already_in_the_repository_is_not_built_again(clone):
    repo, env, calls, pushed = clone
    (pushed / "customers-api").touch()
    done = images(repo, env)
    assert done.returncode == 0, done.stderr
    assert "customers-api" in done.stderr and "not built again" in done.stderr
    builds = [line for line in calls.read_text().splitlines() if line.startswith("docker build ")]
    assert len(builds) == 1 and "SERVICE=orders-api" in builds[0]

"""make setup-deploy installs what a deploy needs and nothing of a
developer's: run in a clone with stand-ins for apt-get, sudo, mysql and
start-stop-daemon that record any call (none may happen), as on a Mac."""
import os
import subprocess

from conftest import ROOT

RECORDER = "#!/bin/sh\necho \"$(basename \"$0\") $*\" >> \"$CALLS\"\nexit 1\n"


def test_setup_deploy_touches_no_database_and_no_system_package(tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", "--local", str(ROOT), str(repo)], check=True)
    (repo / ".venv").symlink_to(ROOT / ".venv")  # already holds the pinned tools
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("apt-get", "sudo", "mysql", "mariadbd", "start-stop-daemon", "brew"):
        (bin_dir / name).write_text(RECORDER)
        (bin_dir / name).chmod(0o755)
    calls = tmp_path / "calls"
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", CALLS=str(calls))
    done = subprocess.run(["bash", "scripts/setup-deploy.sh"], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "deploy tools ready" in done.stdout and "SAM CLI" in done.stdout and "cargo-lambda 1." in done.stdout
    assert not calls.exists(), calls.read_text()
    # The Makefile runs it, and the deploy guide's first step is it.
    assert "scripts/setup-deploy.sh" in (ROOT / "Makefile").read_text()
    assert "make setup-deploy" in (ROOT / "docs" / "deploy.md").read_text()

"""The scripts' shared helpers live in scripts/lib/common.sh only: no script
defines one of them again."""
import re

from conftest import ROOT

HELPERS = ("as_root", "apt_install", "mysql_root", "drop_database", "free_port", "wait_http",
           "wait_ready", "mysql_")


def test_no_script_defines_a_shared_helper_again():
    common = ROOT / "scripts" / "lib" / "common.sh"
    defined = set(re.findall(r"^(\w+)\(\) \{", common.read_text(), re.M))
    assert defined >= set(HELPERS) - {"wait_ready", "mysql_"}
    again = []
    for script in sorted((ROOT / "scripts").rglob("*.sh")):
        if script == common:
            continue
        for name in re.findall(r"^\s*(\w+)\(\) \{", script.read_text(), re.M):
            if name in HELPERS:
                again.append(f"{script.relative_to(ROOT)}: {name}")
    assert again == []


def test_every_script_that_uses_a_helper_sources_the_library():
    for script in sorted((ROOT / "scripts").rglob("*.sh")):
        text = script.read_text()
        uses = [h for h in HELPERS if re.search(rf"(^|[\s;(|&]){h}\s", text, re.M)]
        if uses and script.name != "common.sh":
            assert re.search(r"lib/(common|apis)\.sh", text), f"{script.name} uses {uses}"

"""scripts/docs_check.py passes on this tree and finds each kind of stale
sentence it exists for: a path in the layout that is gone, a target the
table lacks, code that moved, a file that was renamed, a figure without its
source."""
import docs_check
from conftest import ROOT

CONTRIBUTING = (ROOT / "CONTRIBUTING.md").read_text()


def test_this_tree_passes():
    assert docs_check.check(str(ROOT)) == []


def test_a_layout_path_that_is_gone_is_found():
    text = CONTRIBUTING.replace("src/{token,jwks,scope}.rs", "src/{token,jwks,scope,keys}.rs")
    assert "CONTRIBUTING.md layout: kit/identity/src/keys.rs does not exist" in docs_check.layout(str(ROOT), text)


def test_a_top_level_entry_missing_from_the_layout_is_found():
    text = CONTRIBUTING.replace("\ndeny.toml ", "\n#deny.toml ")
    found = docs_check.layout(str(ROOT), text)
    assert "CONTRIBUTING.md layout: deny.toml is not listed" in found


def test_a_make_target_missing_from_the_table_is_found():
    text = CONTRIBUTING.replace("| `make fmt` | format the code |\n", "")
    assert docs_check.commands(str(ROOT), text) == ["CONTRIBUTING.md commands: make fmt is not listed"]


def test_code_that_moved_is_found():
    assert docs_check.resolve(str(ROOT), "kit_server::db::unique_key") is None
    assert docs_check.resolve(str(ROOT), "contracts::headers") is None
    assert docs_check.resolve(str(ROOT), "kit_server::db::no_such_fn") is not None
    assert docs_check.resolve(str(ROOT), "service_kit::auth") == "no such crate"


def test_a_renamed_file_and_an_unsourced_figure_are_found(tmp_path):
    (tmp_path / "README.md").write_text(
        "Fast: 1.5× the sagas/s of before.\n\nSee `orders-api/src/domain.rs`.\n"
        "\nLinked: 0.9× ([r](bench/results/x.md)).\n")
    assert len(docs_check.figures(str(tmp_path))) == 1
    (tmp_path / ".git").mkdir()
    found = docs_check.file_refs(str(tmp_path))
    assert found == ["README.md:3: orders-api/src/domain.rs does not exist"]

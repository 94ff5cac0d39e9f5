"""scripts/names_check.py finds a header name or an event kind written as a
literal outside contracts, and lets OpenAPI attributes name headers."""
import shutil

import names_check
from conftest import ROOT


def tree(tmp_path, code):
    for rel in (names_check.HEADERS, names_check.EVENTS):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    (tmp_path / "orders-api" / "src").mkdir(parents=True)
    (tmp_path / "orders-api" / "src" / "lib.rs").write_text(code)
    return names_check.check(str(tmp_path))


def test_this_tree_names_everything_from_contracts():
    assert names_check.check(str(ROOT)) == []


def test_a_header_literal_is_found_in_any_case(tmp_path):
    found = tree(tmp_path, 'fn f(r: R) { r.header("Idempotency-Key", "k"); }\n')
    assert found == ["orders-api/src/lib.rs:1: header name 'Idempotency-Key' as a literal (contracts::headers)"]


def test_an_event_kind_literal_is_found(tmp_path):
    found = tree(tmp_path, 'const K: &str = "order.confirmed";\n')
    assert len(found) == 1 and "event kind 'order.confirmed'" in found[0]


def test_openapi_attributes_may_name_headers(tmp_path):
    code = '#[utoipa::path(params(("Idempotency-Key" = String, Header)))]\nfn f() {}\n'
    assert tree(tmp_path, code) == []

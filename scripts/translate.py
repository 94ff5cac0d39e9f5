#!/usr/bin/env python3
"""SAM's transform of template.yaml, offline: the template CloudFormation
receives, with the resources SAM generates (the function's versions and
alias, the CodeDeploy application and deployment group, permissions, the HTTP
API's routes and integrations, roles).

    translate.py [--template T.yaml] [OUT.json] [Name=Value ...]

writes the translation of template.yaml (or T) to OUT (standard output when
OUT is "-" or absent). The
function's CodeUri becomes a placeholder s3:// URI (what `sam deploy` puts
there after uploading the build); the parameters given are the ones the
transform may resolve. Nothing reaches AWS: the managed policies' ARNs come
from an empty loader, as this template names none by short name.

make deploy-check lints this output (cfn-lint, checkov) and walks its
dependency graph (scripts/cfn_graph.py).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parent.parent
# What a deploy always passes (scripts/deploy.py); a rule refuses it empty.
DEFAULTS = {"MigrateImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders-api@sha256:" + "0" * 64}


class _NoManagedPolicies:
    def load(self) -> dict:
        return {}


def translate(parameters: dict[str, str] | None = None, path: Path = ROOT / "template.yaml") -> dict:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    doc = yaml_parse(path.read_text())
    for res in doc["Resources"].values():
        if res.get("Type") == "AWS::Serverless::Function" and "InlineCode" not in res.get("Properties", {}):
            res["Properties"]["CodeUri"] = "s3://placeholder-bucket/placeholder-key"
    return transform(doc, {**DEFAULTS, **(parameters or {})}, _NoManagedPolicies())


def main(argv: list[str]) -> int:
    path = ROOT / "template.yaml"
    if argv[:1] == ["--template"]:
        path, argv = Path(argv[1]), argv[2:]
    out = argv[0] if argv else "-"
    parameters = dict(a.split("=", 1) for a in argv[1:])
    text = json.dumps(translate(parameters, path), indent=1, sort_keys=True, default=str)
    if out == "-":
        print(text)
    else:
        Path(out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

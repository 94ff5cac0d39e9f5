#!/usr/bin/env python3
"""The env file of `sam local start-api` (orchestrator-lambda/sam-local-env.json)
against template.yaml, read by SAM CLI's own template reader
(`samcli.yamlhelper.yaml_parse`, intrinsic functions included):

  sam-local-env.py check          fail unless every function it names is an
                                  AWS::Serverless::Function of the template and
                                  every variable it sets is one that function
                                  declares (SAM ignores the others silently)
  sam-local-env.py render OUT     write the env file with JWT_ISSUER,
                                  JWT_AUDIENCE and the orchestrator's own token
                                  (ORCHESTRATOR_SERVICE_TOKEN, as its
                                  SERVICE_TOKEN) taken from .env, if there is
                                  one, and JWT_JWKS: the key set of .env's
                                  JWT_JWKS (a file is inlined: the function's
                                  container cannot read this machine's files),
                                  or the dev issuer's (scripts/dev-keys.sh)
"""
import json
import pathlib
import subprocess
import sys

from samcli.yamlhelper import yaml_parse

ROOT = pathlib.Path(__file__).resolve().parent.parent
ENV_FILE = ROOT / "orchestrator-lambda" / "sam-local-env.json"


def check() -> int:
    template = yaml_parse((ROOT / "template.yaml").read_text())
    resources = template.get("Resources", {})
    env = json.loads(ENV_FILE.read_text())
    problems = []
    for function, values in env.items():
        resource = resources.get(function)
        if not resource or resource.get("Type") != "AWS::Serverless::Function":
            problems.append(f"{function} is not a function of template.yaml")
            continue
        declared = (
            resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        )
        for name in values:
            if name not in declared:
                problems.append(f"{function}: {name} is not declared in template.yaml")
    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        print(f"{ENV_FILE.name} agrees with template.yaml ({sum(len(v) for v in env.values())} variables)")
    return 1 if problems else 0


def inline_jwks(value: str) -> str:
    """JWT_JWKS as the function's container can take it: an URL or a
    document as it is, a file's document on one line, else the dev issuer's."""
    if value.startswith(("{", "https://")):
        return value
    if value:
        path = pathlib.Path(value)
        path = path if path.is_absolute() else ROOT / path
        if path.exists():
            return json.dumps(json.loads(path.read_text()), separators=(",", ":"))
    dev = subprocess.run([str(ROOT / "scripts" / "dev-keys.sh"), "--inline"],
                         check=True, capture_output=True, text=True)
    return dev.stdout.strip()


def render(out: str) -> int:
    env = json.loads(ENV_FILE.read_text())
    dotenv = ROOT / ".env"
    found = {}
    if dotenv.exists():
        for line in dotenv.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and not name.lstrip().startswith("#"):
                found[name.strip()] = value.strip()
    # The orchestrator's own token is its SERVICE_TOKEN.
    renamed = {"ORCHESTRATOR_SERVICE_TOKEN": "SERVICE_TOKEN"}
    for values in env.values():
        for name in ("JWT_ISSUER", "JWT_AUDIENCE", *renamed):
            if name in found:
                values[renamed.get(name, name)] = found[name]
        values["JWT_JWKS"] = inline_jwks(found.get("JWT_JWKS", ""))
    pathlib.Path(out).write_text(json.dumps(env, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "check":
        sys.exit(check())
    if len(sys.argv) == 3 and sys.argv[1] == "render":
        sys.exit(render(sys.argv[2]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)

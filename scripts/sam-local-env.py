#!/usr/bin/env python3
"""The env file of `sam local start-api` (orchestrator-lambda/sam-local-env.json)
against template.yaml, read by SAM CLI's own template reader
(`samcli.yamlhelper.yaml_parse`, intrinsic functions included):

  sam-local-env.py check          fail unless every function it names is an
                                  AWS::Serverless::Function of the template and
                                  every variable it sets is one that function
                                  declares (SAM ignores the others silently)
  sam-local-env.py render OUT     write the env file with JWT_SECRET (and
                                  JWT_ISSUER, JWT_AUDIENCE) and the
                                  orchestrator's own token
                                  (ORCHESTRATOR_SERVICE_TOKEN, as its
                                  SERVICE_TOKEN) taken from .env, if there is one
"""
import json
import pathlib
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


def render(out: str) -> int:
    env = json.loads(ENV_FILE.read_text())
    dotenv = ROOT / ".env"
    if dotenv.exists():
        for line in dotenv.read_text().splitlines():
            name, sep, value = line.partition("=")
            name = name.strip()
            # The orchestrator's own token is its SERVICE_TOKEN.
            renamed = {"ORCHESTRATOR_SERVICE_TOKEN": "SERVICE_TOKEN"}
            if sep and name in ("JWT_SECRET", "JWT_ISSUER", "JWT_AUDIENCE", *renamed):
                for values in env.values():
                    values[renamed.get(name, name)] = value.strip()
    pathlib.Path(out).write_text(json.dumps(env, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "check":
        sys.exit(check())
    if len(sys.argv) == 3 and sys.argv[1] == "render":
        sys.exit(render(sys.argv[2]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)

"""cfn-lint and checkov find nothing wrong with deploy/stratus.yaml.

Both run from .venv-deploy, a venv of their own (`make deploy-tools`, which `make test`
runs; deploy/requirements-lint.txt pins them), offline: checkov with --skip-download. Each
checkov rule the template skips is skipped on one resource, in its Metadata, with the
reason beside it.
"""

import json
import subprocess

import pytest

from .template import ROOT, TEMPLATE, load

TOOLS = ROOT / ".venv-deploy" / "bin"
#: Fewest words a skipped rule's reason may have: a reason, not a label.
REASON_WORDS = 8


def tool(name):
    path = TOOLS / name
    if not path.exists():
        pytest.fail(f"{path} is missing: `make deploy-tools` installs it (`make test` does)")
    return str(path)


@pytest.fixture(scope="module")
def checkov():
    """checkov's JSON report on the template."""
    result = subprocess.run(
        [tool("checkov"), "--file", str(TEMPLATE), "--framework", "cloudformation",
         "--skip-download", "--output", "json"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode in (0, 1), result.stderr[-3000:]  # 1: some check failed
    return json.loads(result.stdout)


def template_skips():
    """{(rule id, "Type.LogicalId")} of every checkov skip in the template, with its reason."""
    skips = {}
    for name, resource in load()["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            skips[(skip["id"], f"{resource['Type']}.{name}")] = skip.get("comment", "")
    return skips


def test_cfn_lint_finds_nothing():
    result = subprocess.run([tool("cfn-lint"), str(TEMPLATE)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_reads_every_resource(checkov):
    assert checkov["summary"]["parsing_errors"] == 0
    assert checkov["summary"]["resource_count"] == len(load()["Resources"])


def test_checkov_finds_no_failed_check(checkov):
    failed = [f"{check['check_id']} {check['resource']}: {check['check_name']}"
              for check in checkov["results"]["failed_checks"]]
    assert failed == []


def test_every_rule_skipped_is_skipped_by_the_template_with_its_reason(checkov):
    skipped = {(check["check_id"], check["resource"])
               for check in checkov["results"]["skipped_checks"]}
    skips = template_skips()
    assert skipped == set(skips)
    short = [f"{rule} on {resource}" for (rule, resource), reason in skips.items()
             if len(reason.split()) < REASON_WORDS]
    assert short == []

"""Dependency audit: pip-audit on requirements/lock.txt, from its own venv (build/audit-venv).

    python scripts/audit.py            # make audit; exit 1 on any finding not accepted
    python scripts/audit.py --json OUT # also write pip-audit's JSON report

pip-audit needs packaging>=23 and CacheControl>=0.13, which Rasa 3.6's pins refuse, so it lives
in a venv of its own and audits the lock file, not the app's venv: every line of the lock is an
exact pin, so it runs with --no-deps (nothing is installed or resolved; each name==version is
looked up in PyPI's vulnerability data).

Accepted findings are listed, with the reason, in docs/audit.md: a table whose first column is
the vulnerability id (or one of its aliases, e.g. the CVE) in backticks. They are reported as
accepted; anything else fails the run (exit 1).

pip-audit needs PyPI's per-release JSON API (or osv.dev). Where neither can be reached (this
project's sandbox proxies PyPI's package index only), every package comes back "not found":
the run then fails with exit status 3 ("not audited") rather than passing; set
CLINIC_AUDIT_ALLOW_OFFLINE=1 to make that a warning (exit 0).
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clinic.settings import ToolSettings  # noqa: E402

VENV = ROOT / "build" / "audit-venv"
LOCK = ROOT / "requirements" / "lock.txt"
ACCEPTED_DOC = ROOT / "docs" / "audit.md"
PIP_AUDIT = "pip-audit==2.10.1"
ACCEPTED_ROW = re.compile(r"^\|\s*`([A-Za-z0-9][A-Za-z0-9_.:-]+)`\s*\|")


def audit_venv() -> Path:
    python = VENV / "bin" / "python"
    stamp = VENV / f".{PIP_AUDIT}"
    if not stamp.exists():
        print(f"setting up {VENV.relative_to(ROOT)} with {PIP_AUDIT}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", PIP_AUDIT], check=True)
        stamp.touch()
    return python


def accepted_ids() -> dict[str, str]:
    """id -> the row's text, from docs/audit.md's table of accepted findings."""
    if not ACCEPTED_DOC.exists():
        return {}
    found = {}
    for line in ACCEPTED_DOC.read_text().splitlines():
        match = ACCEPTED_ROW.match(line)
        if match:
            found[match.group(1)] = line
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write pip-audit's JSON report here")
    args = parser.parse_args()

    python = audit_venv()
    accepted = accepted_ids()
    command = [str(python), "-m", "pip_audit", "--requirement", str(LOCK), "--no-deps", "--disable-pip",
               "--progress-spinner", "off", "--format", "json", "--vulnerability-service", "pypi"]
    result = subprocess.run(command, capture_output=True, text=True)
    try:
        report = json.loads(result.stdout)
    except ValueError:
        print(result.stdout, result.stderr, sep="\n", file=sys.stderr)
        print("pip-audit did not produce a report", file=sys.stderr)
        return 2
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))

    dependencies = report.get("dependencies", [])
    skipped = [dep for dep in dependencies if dep.get("skip_reason")]
    print(f"{len(dependencies)} pinned packages in {LOCK.relative_to(ROOT)}, {len(skipped)} not audited")
    if dependencies and len(skipped) == len(dependencies):
        print(f"NOT AUDITED: no vulnerability data could be reached ({skipped[0]['skip_reason']}).\n"
              "pip-audit needs https://pypi.org/pypi/<name>/<version>/json or https://api.osv.dev; "
              "run it where they can be reached.")
        return 0 if ToolSettings().audit_allow_offline else 3
    for dep in skipped:
        print(f"  not audited: {dep['name']} ({dep['skip_reason']})")
    new = 0
    for dep in dependencies:
        for vuln in dep.get("vulns", []):
            names = {vuln["id"], *(vuln.get("aliases") or [])}
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix"
            state = "accepted" if names & set(accepted) else "FINDING"
            new += state == "FINDING"
            print(f"  {state} {dep['name']}=={dep['version']}: {' / '.join(sorted(names))}; fixed in {fixes}")
    if new:
        print(f"{new} finding(s) not accepted: upgrade, or explain them in docs/audit.md")
        return 1
    print(f"no finding beyond the {len(accepted)} accepted in docs/audit.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Test the package against the lowest supported versions of its dependencies.
#
#   bash .ci/test-min-versions.sh [VENV] [PYTHON]
#
# VENV    venv to (re)create, default .venv-min in the repository root
# PYTHON  interpreter for the venv, default $PYTHON, else python3.11, else pyenv's 3.11
#         (3.11 is the oldest Python zarr 3 installs on)
#
# Steps: check that .ci/min-versions.txt pins every ">=" bound of pyproject.toml at
# exactly that version, create a fresh venv, install the package editable with
# ".[test]" constrained by .ci/min-versions.txt, check the installed versions, run a
# subset of the test suite. Exits non-zero on any failure. Takes about 2 minutes
# with a warm pip cache on 2 cores.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${1:-.venv-min}"
PY="${2:-${PYTHON:-}}"
CONSTRAINTS=".ci/min-versions.txt"
TESTS=(
    tests/test_intake_compat.py
    tests/test_catalog.py
    tests/test_ipfs.py
    tests/test_tree.py
    tests/test_cid.py
    tests/test_pointer.py
    tests/test_offline.py
    tests/test_distributed.py
)

if [[ -z "$PY" ]]; then
    if command -v python3.11 >/dev/null 2>&1 && python3.11 -c '' 2>/dev/null; then
        PY=python3.11
    else
        PY="$(ls -d "$HOME"/.pyenv/versions/3.11.*/bin/python 2>/dev/null | sort -V | tail -n 1 || true)"
    fi
fi
if [[ -z "$PY" ]] || ! "$PY" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    echo "test-min-versions: need Python >= 3.11 (got '${PY:-none}'); pass it as the second argument" >&2
    exit 2
fi

start=$SECONDS
echo "== checking $CONSTRAINTS against pyproject.toml"
"$PY" - "$CONSTRAINTS" <<'EOF'
"""The '>=' bounds of what ".[test]" installs must be pinned at exactly those versions.

Extras that ".[test]" does not install (e.g. docs) are not tested here; a package
pinned here must still have the same bound there.
"""
import re
import sys
import tomllib


def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def same(a, b):  # "3.0" == "3.0.0"
    return re.sub(r"(\.0+)+$", "", a) == re.sub(r"(\.0+)+$", "", b)


pins = {}
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split("#", 1)[0].strip()
    if line:
        name, _, version = line.partition("==")
        pins[norm(name)] = version.strip()

project = tomllib.load(open("pyproject.toml", "rb"))["project"]
extras = project.get("optional-dependencies", {})
# the extras ".[test]" pulls in, following "eurec4a[...]" references
installed, todo = set(), ["test"]
while todo:
    extra = todo.pop()
    if extra not in installed:
        installed.add(extra)
        for req in extras.get(extra, []):
            m = re.match(r"\s*eurec4a\[([^\]]*)\]", req)
            if m:
                todo += [e.strip() for e in m.group(1).split(",")]
groups = [("dependencies", project["dependencies"], True)]
groups += [(f"extra {e!r}", reqs, e in installed) for e, reqs in extras.items()]

errors, tested = [], {}
for where, reqs, is_installed in groups:
    for req in reqs:
        m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*?)\s*(;.*)?", req)
        name, spec = norm(m.group(1)), m.group(3)
        if name == "eurec4a":
            continue
        low = re.search(r">=\s*([^,\s]+)", spec)
        if name in pins and low and not same(low.group(1), pins[name]):
            errors.append(f"{name}: pyproject.toml ({where}) says >={low.group(1)}, "
                          f"{sys.argv[1]} pins =={pins[name]}")
        if not is_installed:
            continue
        if not low:
            errors.append(f"{req!r} ({where}): no '>=' lower bound in pyproject.toml")
        elif name not in pins:
            errors.append(f"{name}>={low.group(1)} ({where}) is not pinned in {sys.argv[1]}")
        else:
            tested[name] = low.group(1)
for name in sorted(set(pins) - set(tested)):
    print(f"   {name}=={pins[name]}: not a direct dependency, pinned at the floor the others allow")
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
print(f"   {len(tested)} lower bounds match (dependencies + extras {sorted(installed)})")
EOF


echo "== creating $VENV with $("$PY" -V 2>&1)"
if [[ -e "$VENV" ]]; then
    if [[ -f "$VENV/pyvenv.cfg" ]]; then
        rm -rf "$VENV"
    else
        echo "test-min-versions: $VENV exists and is not a venv; not touching it" >&2
        exit 2
    fi
fi
"$PY" -m venv "$VENV"
VPY="$VENV/bin/python"

echo "== installing .[test] with $CONSTRAINTS"
# editable: eurec4a.testing reads the repository's catalogs/ folder beside the package
"$VPY" -m pip install --quiet --disable-pip-version-check -c "$CONSTRAINTS" -e ".[test]"

echo "== checking installed versions"
"$VPY" - "$CONSTRAINTS" <<'EOF'
import re
import sys
from importlib.metadata import PackageNotFoundError, version

bad = []
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, _, want = line.partition("==")
    try:
        got = version(name.strip())
    except PackageNotFoundError:
        got = None
    print(f"   {name.strip():<16} {got}")
    if got != want.strip():
        bad.append(f"{name.strip()}: installed {got}, pinned {want.strip()}")
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
EOF
echo "   install took $((SECONDS - start)) s"

echo "== running the test subset"
status=0
"$VPY" -m pytest -q -p no:cacheprovider "${TESTS[@]}" || status=$?
echo "== test-min-versions: pytest exit $status after $((SECONDS - start)) s"
exit $status

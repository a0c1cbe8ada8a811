"""The locked dependency sets (what `make run` and `make test` install) match the direct pins they are
compiled from, and every package in them carries hashes."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s\\;]+)")


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(3)
    return found


@pytest.mark.parametrize(
    ("direct", "locked"), [("requirements.txt", "requirements.lock"), ("requirements-dev.txt", "requirements-dev.lock")]
)
def test_the_lock_pins_every_direct_dependency_at_the_same_version(direct, locked):
    wanted, have = pins(ROOT / direct), pins(ROOT / locked)
    assert wanted, direct
    assert {name: version for name, version in wanted.items() if have.get(name) != version} == {}, (
        f"{locked} is out of date: run `make lock`"
    )


@pytest.mark.parametrize("locked", ["requirements.lock", "requirements-dev.lock"])
def test_every_locked_package_has_a_hash(locked):
    text = (ROOT / locked).read_text()
    packages = [m.group(0) for line in text.splitlines() if (m := PIN.match(line))]
    assert len(packages) > 30
    assert text.count("==") == len(packages)
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        if PIN.match(block):
            assert "--hash=sha256:" in block, block.splitlines()[0]


def test_the_runtime_lock_has_no_test_tools():
    runtime = pins(ROOT / "requirements.lock")
    assert not {"pytest", "moto", "ruff", "playwright"} & set(runtime)

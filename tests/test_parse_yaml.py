"""eurec4a.catalog.yaml_catalog.parse_yaml: the fast catalog-file loader gives exactly what PyYAML gives."""
from __future__ import annotations

import datetime

import pytest
import yaml

from eurec4a.catalog.loader import parse_yaml

from eurec4a.testing import CATALOGS_DIR as CATALOGS

DOCUMENTS = [
    "",
    "# only a comment",
    "a: 1",
    "[1, 2.5, -3e2, .inf, 0x1f, 0o17, 1_000, yes, no, on, off, ~, null, 'quoted', \"dq\"]",
    "date: 2020-02-01\ntime: 2020-02-01T10:00:00Z\nnaive: 2020-02-01 10:00:00",
    "nested: {a: [1, {b: c}], 'd e': {f: [g, [h, i]]}}",
    "anchor: &x {a: 1, b: [2, 3]}\nalias: *x",
    "base: &b {a: 1}\nderived:\n  <<: *b\n  c: 2",  # merge key: PyYAML's path
    "s: !!set {a, b}",
    "bin: !!binary aGVsbG8=",
    "str_num: !!str 12\nint_str: !!int '7'\nfloat: !!float 1",
    "dup: 1\ndup: 2",
    "multi: |\n  line one\n  line two\nfolded: >\n  folded\n  text\n",
    "unicode: \"caf\\u00e9 \u2603\"",
    "version: 2\nsources: {}",
]


@pytest.mark.parametrize("text", DOCUMENTS)
def test_same_as_pyyaml(text):
    assert parse_yaml(text.encode("utf-8")) == yaml.load(text, Loader=yaml.CSafeLoader)


def test_anchors_stay_shared_and_recursive_ones_work():
    doc = parse_yaml(b"a: &x [1, 2]\nb: *x\nr: &r [*r]")
    assert doc["a"] is doc["b"]
    assert doc["r"][0] is doc["r"]
    assert isinstance(parse_yaml(b"d: 2020-02-01")["d"], datetime.date)


@pytest.mark.parametrize("bad", ["a: [unclosed", "--- a\n--- b", "a: *nowhere", "!!python/object:os.system x",
                                 "? [1, 2]\n: unhashable key"])
def test_errors_are_pyyamls(bad):
    with pytest.raises(yaml.YAMLError):
        yaml.load(bad, Loader=yaml.CSafeLoader)
    with pytest.raises(yaml.YAMLError):
        parse_yaml(bad.encode())


def test_every_catalog_file_of_the_repository():
    files = sorted(p for p in CATALOGS.rglob("*") if p.suffix in (".yml", ".yaml"))
    assert len(files) >= 10
    for path in files:
        raw = path.read_bytes()
        assert parse_yaml(raw) == yaml.load(raw, Loader=yaml.CSafeLoader), path


def test_a_generated_large_catalog(tmp_path):
    from eurec4a.testing.large_catalog import generate_large_catalog

    root = generate_large_catalog(tmp_path, n_files=20, n_entries=200, depth=4)
    for path in root.parent.rglob("*.y*ml"):
        raw = path.read_bytes()
        assert parse_yaml(raw) == yaml.load(raw, Loader=yaml.CSafeLoader), path

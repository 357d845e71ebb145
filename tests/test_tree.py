"""eurec4a.catalog.tree: walk and tree over real catalog files, with cycles and broken entries, locally and over HTTP."""
from __future__ import annotations

import io
import textwrap
import warnings

import pytest

from eurec4a.errors import CatalogNotFoundError
from eurec4a.catalog.entry import Entry
from eurec4a.catalog.yaml_catalog import open_yaml_catalog
from eurec4a.testing.http import StaticServer
from eurec4a.catalog.tree import iter_nodes, tree, walk
from eurec4a.errors import CatalogCycleWarning, CatalogLoadWarning

FLIGHTS = ["HALO-0119", "HALO-0122", "HALO-0205"]


def _write(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """root -> HALO -> {BACARDI -> irradiances (3 flights), loop/a <-> loop/b}, self-inclusion, a missing file."""
    root = tmp_path_factory.mktemp("tree")
    _write(root / "catalog.yml", """\
        sources:
          HALO:
            driver: yaml_file_cat
            args: {path: "{{CATALOG_DIR}}/HALO/main.yaml"}
          flights:
            driver: json
            args: {urlpath: "{{CATALOG_DIR}}/flights.json"}
          again:
            driver: yaml_file_cat
            args: {path: "{{CATALOG_DIR}}/catalog.yml"}
          gone:
            driver: yaml_file_cat
            args: {path: "{{CATALOG_DIR}}/missing.yaml"}
          strange:
            driver: no_such_driver
            args: {}
        """)
    _write(root / "HALO/main.yaml", """\
        sources:
          BACARDI:
            driver: intake.catalog.local.YAMLFileCatalog
            args: {path: "{{CATALOG_DIR}}/bacardi.yaml"}
          loop:
            driver: yaml_file_cat
            args: {path: "{{CATALOG_DIR}}/loop/a.yaml"}
          radar:
            driver: opendap
            args: {urlpath: "http://127.0.0.1:9/radar_{{ flight_id }}.nc", engine: netcdf4}
            parameters:
              flight_id: {description: flight, type: str, default: HALO-0205, allowed: %s}
              version: {description: version, type: float, default: 0.9, min: 0.8, max: 1.0}
        """ % FLIGHTS)
    _write(root / "HALO/bacardi.yaml", """\
        sources:
          irradiances:
            driver: yaml_file_cat
            args: {path: "{{CATALOG_DIR}}/irradiances.yaml"}
        """)
    _write(root / "HALO/irradiances.yaml", "sources:\n" + "".join(
        f"  {f}:\n    driver: netcdf\n    args: {{urlpath: '{{{{CATALOG_DIR}}}}/{f}.nc'}}\n" for f in FLIGHTS))
    _write(root / "HALO/loop/a.yaml", """\
        sources:
          b:
            driver: yaml_file_cat
            args: {path: "{{CATALOG_DIR}}/b.yaml"}
        """)
    _write(root / "HALO/loop/b.yaml", """\
        sources:
          a:
            driver: yaml_file_cat
            args: {path: "{{CATALOG_DIR}}/a.yaml"}
          leaf:
            driver: json
            args: {urlpath: "{{CATALOG_DIR}}/leaf.json"}
        """)
    return root


EXPECTED = [
    "HALO",
    "HALO.BACARDI",
    "HALO.BACARDI.irradiances",
    *[f"HALO.BACARDI.irradiances.{f}" for f in FLIGHTS],
    "HALO.loop",
    "HALO.loop.b",
    "HALO.loop.b.a",
    "HALO.loop.b.leaf",
    "HALO.radar",
    "flights",
    "again",
    "gone",
    "strange",
]


@pytest.fixture(scope="module")
def server(root):
    with StaticServer(root) as srv:
        yield srv


@pytest.fixture(params=["local", "http"])
def cat(request, root):
    if request.param == "local":
        return open_yaml_catalog(str(root / "catalog.yml"))
    return open_yaml_catalog(request.getfixturevalue("server").url + "/catalog.yml")


def test_walk_yields_every_entry_and_ends_on_cycles(cat):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pairs = list(walk(cat))
    assert [p for p, _ in pairs] == EXPECTED
    assert all(isinstance(e, Entry) for _, e in pairs)
    cycles = [w for w in caught if issubclass(w.category, CatalogCycleWarning)]
    # two cycles (root includes itself; loop/a <-> loop/b), each reported once, naming the files
    assert len(cycles) == 2
    texts = sorted(str(w.message) for w in cycles)
    assert "a.yaml -> " in texts[0] or "a.yaml -> " in texts[1]
    assert any("catalog.yml -> " in t and t.count("catalog.yml") == 2 for t in texts)
    loads = [w for w in caught if issubclass(w.category, CatalogLoadWarning)]
    assert sorted(str(w.message).split(":")[0] for w in loads) == ["'gone'", "'strange'"]


def test_walk_max_depth_and_on_error(cat):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert [p for p, _ in walk(cat, max_depth=1)] == ["HALO", "flights", "again", "gone", "strange"]
        assert [p for p, _ in walk(cat, max_depth=2)][:4] == ["HALO", "HALO.BACARDI", "HALO.loop", "HALO.radar"]
    with pytest.raises(CatalogNotFoundError, match="missing.yaml"):
        list(walk(cat, on_error="raise"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        list(walk(cat, on_error="ignore"))
    assert not [w for w in caught if issubclass(w.category, CatalogLoadWarning)]
    with pytest.raises(ValueError, match="on_error"):
        list(walk(cat, on_error="explode"))


def test_nodes_record_kinds(cat):
    kinds = {n.path: n.kind for n in iter_nodes(cat)}
    assert kinds["again"] == "cycle" and kinds["HALO.loop.b.a"] == "cycle"
    assert kinds["gone"] == "error" and kinds["strange"] == "error"
    assert kinds["HALO.BACARDI"] == "catalog" and kinds["flights"] == "source"


def test_tree_text(cat):
    out = io.StringIO()
    text = tree(cat, file=out)
    assert out.getvalue() == text + "\n"
    lines = text.splitlines()
    assert lines[0].startswith(cat.name)
    assert len(lines) == 1 + len(EXPECTED)
    assert "|-- HALO/  [yaml_file_cat]" in lines
    assert "|   |-- BACARDI/  [yaml_file_cat]" in lines
    assert "|   |   `-- irradiances/  [yaml_file_cat]" in lines
    assert "|   |       |-- HALO-0119  [netcdf]" in lines
    assert "|   |       `-- HALO-0205  [netcdf]" in lines
    radar = next(line for line in lines if "radar" in line)
    assert "[opendap]" in radar
    assert f"flight_id: str = HALO-0205, one of {FLIGHTS}" in radar
    assert "version: float = 0.9 in [0.8, 1.0]" in radar
    again = next(line for line in lines if "again" in line)
    assert "cycle, not followed" in again and "catalog.yml -> " in again
    gone = next(line for line in lines if "gone" in line)
    assert "!! CatalogNotFoundError" in gone and "missing.yaml" in gone
    strange = next(line for line in lines if "strange" in line)
    assert "!! CatalogError" in strange and "no_such_driver" in strange and "'opendap'" in strange


def test_tree_options(cat):
    short = tree(cat, max_depth=1).splitlines()
    assert len(short) == 6
    assert short[1] == "|-- HALO/  [yaml_file_cat]  ..."
    bare = tree(cat, show_params=False)
    assert "flight_id" not in bare and "radar  [opendap]" in bare


def test_walk_over_http_fetches_each_file_once(root):
    with StaticServer(root) as server:  # its own server: a fresh request count
        cat = open_yaml_catalog(server.url + "/catalog.yml")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            first = [p for p, _ in walk(cat)]
            second = [p for p, _ in walk(cat)]
            tree(cat)
        assert first == second == EXPECTED
        for path in ("/catalog.yml", "/HALO/main.yaml", "/HALO/irradiances.yaml", "/HALO/loop/a.yaml",
                     "/HALO/loop/b.yaml"):
            assert server.count(path=path) == 1, path

"""The ``pyfiles`` source: a tree of .py files -> programs (code bundles, inputs) or named rejections.

The fixture tree (tests/fixtures/pyfiles/toolkit) is parsed, never imported; its programs are
also run in the sandbox, where the docstring examples must hold. Its modules are read as the
ingest reads them: a function also bundles what it needs from the tree's other modules
(toolkit/linked: modules that import one another).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tracepile.analysis.values import values_equal
from tracepile.config import PyfilesConfig
from tracepile.sources.pyfiles import (
    MAX_CHARS,
    MAX_INT,
    MAX_ITEMS,
    TREE_CODE_BUDGET,
    FileReader,
    PyTree,
    parse_pyfile,
    scan_tree,
)
from tracepile.sources.records import Rejection
from tracepile.udfs.sandbox import Sandbox
from tracepile.vocab import IngestReason, Status

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "pyfiles"
TOOLKIT = FIXTURES / "toolkit"
TREE = scan_tree(str(FIXTURES), sorted(str(path) for path in FIXTURES.rglob("*.py")))
SETTINGS = PyfilesConfig()
CONTENT_KEYS = {
    "program_id", "source_kind", "source", "category", "problem", "io_requirements", "code",
    "entry_point", "run_mode", "inputs", "domain", "meta_json",
}  # fmt: skip


def read_file(path: str) -> str | None:
    """The text of a file of a tree, as the ingest hands it to ``parse_pyfile``."""
    file = Path(path)
    return file.read_text(encoding="utf-8") if file.is_file() else None


def parse(
    module: str, settings: PyfilesConfig = SETTINGS, reader: FileReader | None = read_file
) -> list[dict[str, Any] | Rejection]:
    path = TOOLKIT / f"{module}.py"
    return list(parse_pyfile(str(path), path.read_text(encoding="utf-8"), settings, TREE, reader))


def programs(module: str, settings: PyfilesConfig = SETTINGS) -> dict[str, dict[str, Any]]:
    return {row["entry_point"]: row for row in parse(module, settings) if isinstance(row, dict)}


def rejections(module: str) -> list[tuple[str, str]]:
    return [(row.reason, row.detail) for row in parse(module) if isinstance(row, Rejection)]


def examples(program: dict[str, Any]) -> list[tuple[dict[str, Any], Any]]:
    return [
        (json.loads(item["input_json"]), json.loads(item["expected_output_json"]))
        for item in program["inputs"]
    ]


def origin(program: dict[str, Any]) -> str:
    return json.loads(program["meta_json"])["input_origin"]


def parse_text(text: str, path: str = "pkg/mod.py") -> list[dict[str, Any] | Rejection]:
    return list(parse_pyfile(path, textwrap.dedent(text), SETTINGS))


ALL_MODULES = ("examples", "generated", "geometry", "rejects", "sorting", "units")
LINKED_MODULES = tuple(
    f"linked/{name}" for name in ("base", "middle", "top", "clash", "ping", "pong", "starred")
)


def test_a_tree_knows_its_own_packages_and_module_names() -> None:
    assert (TREE.root, TREE.packages, TREE.root_package) == (str(FIXTURES), {"toolkit"}, None)
    assert TREE.relative(str(TOOLKIT / "geometry.py")) == "toolkit/geometry.py"
    assert TREE.module_name(str(TOOLKIT / "geometry.py")) == "toolkit.geometry"
    assert TREE.module_name(str(TOOLKIT / "__init__.py")) == "toolkit"

    package = scan_tree(str(TOOLKIT) + "/", [str(path) for path in TOOLKIT.glob("*.py")])
    assert package == PyTree(str(TOOLKIT), frozenset({"toolkit"}), "toolkit")
    assert package.relative(str(TOOLKIT / "geometry.py")) == "geometry.py"
    assert package.module_name(str(TOOLKIT / "geometry.py")) == "toolkit.geometry"

    repository = scan_tree(
        "/r",
        ["/r/src/pkg/__init__.py", "/r/src/pkg/a.py", "/r/setup.py", "/r/tests/test_a.py", "/r/my-tool/x.py"],
    )
    assert repository.packages == {"pkg", "setup", "tests"}
    assert repository.module_name("/r/src/pkg/a.py") == "pkg.a"
    # where a module may be, in the order Python looks: what a program needs from it is read there
    assert repository.module_paths("pkg.a") == [
        "/r/pkg/a/__init__.py", "/r/pkg/a.py", "/r/src/pkg/a/__init__.py", "/r/src/pkg/a.py",
    ]  # fmt: skip
    assert repository.module_paths("json") == []  # not the tree's
    assert package.module_paths("toolkit") == [str(TOOLKIT / "__init__.py")]
    assert package.module_paths("toolkit.linked.base") == [
        str(TOOLKIT / "linked" / "base" / "__init__.py"), str(TOOLKIT / "linked" / "base.py"),
    ]  # fmt: skip
    assert package.module_paths("other.base") == []


def test_rows_have_the_codeio_fields_and_compile() -> None:
    rows = [row for module in ALL_MODULES + LINKED_MODULES for row in parse(module) if isinstance(row, dict)]
    assert len(rows) == 24 + 3 + 13  # 3 of toolkit's own take what they need from toolkit.units
    for row in rows:
        assert set(row) == CONTENT_KEYS
        assert row["source_kind"] == "pyfiles"
        tree = ast.parse(row["code"])
        assert [n.name for n in tree.body if isinstance(n, ast.FunctionDef)][-1] == row["entry_point"]
        for item in row["inputs"]:
            assert isinstance(json.loads(item["input_json"]), dict)
    assert len({row["program_id"] for row in rows}) == len(rows)


def test_a_function_bundles_exactly_what_it_needs_from_its_module() -> None:
    found = programs("geometry")
    assert sorted(found) == ["distance", "origin_offset", "scaled", "shoelace_area"]
    # unused: os, UNUSED, the tree's own imports; Point and math only where used
    assert found["distance"]["code"] == textwrap.dedent('''\
        from __future__ import annotations
        import math

        PRECISION = 3


        class Point:
            def __init__(self, x: float, y: float) -> None:
                self.x = x
                self.y = y

            def norm(self) -> float:
                return math.hypot(self.x, self.y)


        def _rounded(value: float) -> float:
            return round(value, PRECISION)


        def distance(x1: float, y1: float, x2: float, y2: float) -> float:
            """Euclidean distance between two points.

            >>> distance(0, 0, 3, 4)
            5.0
            >>> distance(1, 1, x2=1, y2=2)
            1.0
            """
            return _rounded(Point(x2 - x1, y2 - y1).norm())
        ''')
    assert found["shoelace_area"]["code"] == textwrap.dedent('''\
        from __future__ import annotations

        PRECISION = 3


        def _rounded(value: float) -> float:
            return round(value, PRECISION)


        def shoelace_area(points: list[list[float]]) -> float:
            """Area of a simple polygon from its vertices in order.

            shoelace_area([[0, 0], [2, 0], [2, 2], [0, 2]]) ==> 4.0
            """
            total = 0.0
            for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1], strict=True):
                total += x1 * y2 - x2 * y1
            return _rounded(abs(total) / 2)
        ''')
    # a statement that changes a module-level name in place goes with its definition
    assert found["origin_offset"]["code"] == textwrap.dedent("""\
        from __future__ import annotations

        ORIGIN_NAMES: dict[str, float] = {}
        ORIGIN_NAMES["origin"] = 0.0


        def origin_offset(name: str) -> float:
            return ORIGIN_NAMES.get(name, -1.0)
        """)
    distance = found["distance"]
    assert (distance["source"], distance["category"], distance["domain"]) == (
        "toolkit/geometry.py", "toolkit.geometry", "math",
    )  # fmt: skip
    assert distance["problem"].startswith("Euclidean distance between two points.")
    assert distance["io_requirements"] == "def distance(x1: float, y1: float, x2: float, y2: float) -> float"
    assert json.loads(distance["meta_json"]) == {
        "module": "toolkit.geometry",
        "path": "toolkit/geometry.py",
        "function": "distance",
        "line": 31,
        "input_origin": "doctest",
    }
    assert (
        found["origin_offset"]["problem"] == "The function `origin_offset` of the module `toolkit.geometry`."
    )
    assert rejections("geometry") == []  # `scaled` takes what it needs from toolkit.units: next test


def test_what_a_function_needs_from_other_modules_of_its_tree_is_bundled() -> None:
    # from toolkit.units: `to_metres` (absolutely) and `SCALE` (relatively), both defined there
    assert programs("geometry")["scaled"]["code"] == textwrap.dedent('''\
        from __future__ import annotations

        SCALE = 1000


        def to_metres(millimetres: float) -> float:
            """Millimetres to metres.

            to_metres(1500) -> 1.5
            """
            return millimetres / SCALE


        def scaled(length: float) -> float:
            return to_metres(length) * SCALE
        ''')
    top = programs("linked/top")
    # a chain of modules: top takes `scale` from middle, which takes `UNIT` and `clip` from base;
    # each module's units after those of the modules it imports from, none of those imports
    assert top["scaled_twice"]["code"] == textwrap.dedent('''\
        UNIT = 10
        LIMITS = (0, 100)


        def clip(value: int) -> int:
            """clip(150) ==> 100"""
            low, high = LIMITS
            return max(low, min(high, value))


        def scale(value: int) -> int:
            """scale(3) ==> 30"""
            return clip(value * UNIT)


        def scaled_twice(value: int) -> int:
            """scaled_twice(2) ==> 100"""
            return scale(scale(value))
        ''')
    # a name imported under another: its definition, then the other name bound to it
    assert top["in_units"]["code"] == textwrap.dedent('''\
        UNIT = 10
        BASE_UNIT = UNIT


        def in_units(length: int) -> float:
            """in_units(25) ==> 2.5"""
            return length / BASE_UNIT
        ''')
    # a name the package's __init__ imports from base: taken from base, where it is defined
    assert top["per_unit"]["code"] == textwrap.dedent('''\
        UNIT = 10


        def per_unit(total: int) -> float:
            """per_unit(50) ==> 5.0"""
            return total / UNIT
        ''')
    # modules imported as namespaces (`from . import middle`): `middle.root` is read as `root`;
    # the imports of all the modules come first, each once
    assert top["clipped_root"]["code"] == textwrap.dedent('''\
        import math

        LIMITS = (0, 100)
        PRECISION = 3


        def clip(value: int) -> int:
            """clip(150) ==> 100"""
            low, high = LIMITS
            return max(low, min(high, value))


        def rounded(value: float) -> float:
            """rounded(2.71828) ==> 2.718"""
            return round(value, PRECISION)


        def root(value: float) -> float:
            """root(2) ==> 1.414"""
            return rounded(math.sqrt(value))


        def clipped_root(value: float) -> int:
            """clipped_root(40000) ==> 100"""
            return clip(int(root(value)))
        ''')
    assert top["floor_root"]["code"].startswith("import math\n\nPRECISION = 3\n")
    assert top["floor_root"]["code"].count("import math") == 1  # top's and middle's
    # `units.to_metres(millimetres)`, after `from toolkit import units`
    assert programs("rejects")["in_metres"]["code"].endswith(
        "def in_metres(millimetres: float) -> float:\n    return to_metres(millimetres)\n"
    )
    assert json.loads(top["clipped_root"]["meta_json"])["module"] == "toolkit.linked.top"
    for program in top.values():
        compile(program["code"], program["source"], "exec")


def test_without_a_reader_a_function_that_imports_its_tree_is_rejected() -> None:
    """The tree's other modules are read only through the reader the caller hands in."""
    alone = parse("geometry", reader=None)
    assert [(row.reason, row.detail) for row in alone if isinstance(row, Rejection)] == [
        (
            "imports_tree_module",
            "scaled (line 57): needs `from toolkit.units import to_metres`, a module of its own tree",
        )
    ]
    assert [row for row in alone if isinstance(row, dict)] == [
        row for row in parse("geometry") if isinstance(row, dict) and row["entry_point"] != "scaled"
    ]


def test_what_cannot_be_bundled_from_other_modules_is_rejected_with_a_reason() -> None:
    assert rejections("linked/clash") == [
        (
            "imports_tree_module",
            "both_precisions (line 13): name collision: `PRECISION` is defined in toolkit.linked.base"
            " and toolkit.linked.clash",
        )
    ]
    assert sorted(programs("linked/clash")) == ["coarse"]  # it needs only its own PRECISION
    # ping takes `pong` from pong, which takes `twice` from ping: no order runs both modules' code
    assert rejections("linked/ping") == [
        (
            "imports_tree_module",
            "ping (line 6): import cycle: toolkit.linked.ping -> toolkit.linked.pong -> toolkit.linked.ping",
        )
    ]
    assert sorted(programs("linked/ping")) == ["twice"]
    assert sorted(programs("linked/pong")) == ["pong"]
    assert rejections("linked/starred") == [
        (
            "imports_tree_module",
            "clipped (line 6): needs `from .base import *`, a star import of its own tree",
        )
    ]


def outcomes(files: dict[str, str], path: str = "user.py") -> dict[str, str]:
    """Each function of ``path`` in the package ``pkg`` made of ``files``: its code, or its
    rejection's reason and detail (without the function's name and line)."""
    texts = {f"/t/pkg/{name}": textwrap.dedent(text) for name, text in files.items()}
    tree = scan_tree("/t/pkg", sorted(texts))
    found = {}
    for row in parse_pyfile(f"/t/pkg/{path}", texts[f"/t/pkg/{path}"], SETTINGS, tree, texts.get):
        if isinstance(row, Rejection):
            name, _, detail = row.detail.partition(" ")
            found[name] = f"{row.reason}: {detail.partition(': ')[2]}"
        else:
            found[row["entry_point"]] = row["code"]
    return found


HELPERS = """\
    import os

    TOTAL = 0


    def helper(x: int) -> int:
        return x + TOTAL


    def sum(values: list[int]) -> int:
        return 0


    def total(values: list[int]) -> int:
        return sum(values)


    def nested(x: int) -> int:
        from .user import f

        return f(x)
"""


CASES = {  # what the module ``user`` binds ``helper`` by -> why ``f`` is no program, if it is not
    "from .a import helper": "program",
    "from .a import total as helper": "program",  # `helper = total` after a's total
    f"from .a import helper\nBIG = {'x' * TREE_CODE_BUDGET!r}": "program",  # its own module's code
    # `t = total` reads a's total; `total.TOTAL` is read as `TOTAL`
    "from .a import total as t\nfrom . import a as total\nhelper = lambda x: t([x]) + total.TOTAL": "program",
    "from .missing import helper": (
        "needs `from .missing import helper`: pkg.missing is no .py module of the tree"
    ),
    "from .a import nope as helper": (
        "needs `from .a import nope as helper`: pkg.a has no nope, neither a name nor a .py module"
    ),
    "from ...up import helper": (
        "needs `from ...up import helper`, a relative import beyond the top-level package"
    ),
    "from .a import *": "needs `from .a import *`, a star import of its own tree",
    "from .a import total\nhelper = lambda x: total([x]) + sum([x])": (
        "name collision: pkg.user reads the builtin `sum`, which pkg.a defines"
    ),
    "from .a import helper as _helper\nTOTAL = 1\nhelper = lambda x: _helper(x) + TOTAL": (
        "name collision: `TOTAL` is defined in pkg.a and pkg.user"
    ),
    "from .a import helper as h\nhelper = h": "name collision: `helper` is defined in pkg.a and pkg.user",
    "from . import a\nhelper = a": (
        "`helper` of pkg.user uses the module pkg.a other than by reading `a.name`"
    ),
    "from . import a\nhelper = a.helper\na = None": (
        "needs `from . import a`: the module pkg.a, also bound otherwise"
    ),
    "from . import a\ndef helper(x):\n    return a.helper(x)": (
        "name collision: `helper` of pkg.user reads `a.helper` and binds `helper` itself"
    ),
    "from .a import nested as helper": (
        "needs `from .user import f` within a statement: only module-level imports of the tree are bundled"
    ),
    "from .big import BIG as helper": f"needs over {TREE_CODE_BUDGET} characters of code from other modules",
}


@pytest.mark.parametrize(("user", "expected"), CASES.items(), ids=range(len(CASES)))
def test_what_cannot_be_taken_from_other_modules_has_a_reason(user: str, expected: str) -> None:
    """``f`` calls ``helper``, which the module ``user`` binds as the case says."""
    source = f"{user}\n\n\ndef f(x: int) -> int:\n    return helper(x)\n"
    big = f"BIG = {'x' * TREE_CODE_BUDGET!r}\n"
    found = outcomes({"__init__.py": "", "a.py": HELPERS, "big.py": big, "user.py": source})["f"]
    if expected == "program":
        compile(found, "user.py", "exec")
    else:
        assert found == f"imports_tree_module: {expected}"


def test_modules_imported_through_others_and_their_futures_are_bundled() -> None:
    files = {
        # `from . import helpers` in an __init__ imports its submodule; the other name is a re-export
        "__init__.py": "from . import helpers\nfrom .helpers import double as twice\n",
        "helpers.py": """\
            from __future__ import annotations

            import os.path


            def double(x: int) -> int:
                return 2 * x


            def described(x: Unknown) -> str:
                return os.path.join("a", str(x))
        """,
        "user.py": """\
            import os

            from pkg import helpers, twice


            def quadruple(x: int) -> int:
                return twice(twice(x))


            def describe(x: int) -> str:
                return helpers.described(x) + os.sep
        """,
    }
    found = outcomes(files)
    assert found["quadruple"] == textwrap.dedent("""\
        from __future__ import annotations


        def double(x: int) -> int:
            return 2 * x


        twice = double


        def quadruple(x: int) -> int:
            return twice(twice(x))
        """)
    # helpers' annotations are postponed: so are the bundle's; `import os` and `import os.path`
    # both bind `os` to the same module
    assert found["describe"] == textwrap.dedent("""\
        from __future__ import annotations
        import os.path
        import os


        def described(x: Unknown) -> str:
            return os.path.join("a", str(x))


        def describe(x: int) -> str:
            return described(x) + os.sep
        """)


def test_functools_decorators_are_kept_and_the_domain_follows_the_path() -> None:
    found = programs("sorting")
    assert found["fib"]["code"] == textwrap.dedent('''\
        import functools


        @functools.lru_cache(maxsize=64)
        def fib(n: int) -> int:
            """fib(10) ==> 55"""
            return n if n < 2 else fib(n - 1) + fib(n - 2)
        ''')
    assert found["staircase"]["code"].startswith(
        "from functools import lru_cache\n\n\n@lru_cache\ndef staircase("
    )
    assert {row["domain"] for row in found.values()} == {"algorithms"}
    assert programs("units")["to_metres"]["domain"] == "general"


def test_doctests_give_inputs_and_expected_outputs() -> None:
    found = programs("examples")
    # the first example of an input wins; too many arguments, a call inside print, a comparison,
    # an exception, a missing argument and an output that is no literal are skipped
    assert examples(found["add"]) == [({"a": 1, "b": 2}, 3), ({"a": 5}, 5)]
    assert examples(found["pair"]) == [
        ({"a": 1, "b": 2}, [1, 2]),
        ({"a": [1, 2], "b": {"k": [3]}}, [[1, 2], {"k": [3]}]),
    ]
    assert found["clear"]["inputs"] == [{"input_json": '{"table":{"a":1}}', "expected_output_json": "null"}]
    assert {origin(found[name]) for name in ("add", "pair", "clear")} == {"doctest"}
    # a set has no JSON form: no example is usable, so the inputs come from the type hints
    assert origin(found["unique"]) == "generated"


@pytest.mark.parametrize(
    ("module", "name", "expected"),
    [
        ("examples", "double", [({"n": 2}, 4), ({"n": -3}, -6)]),  # ==>
        ("examples", "negate", [({"n": 5}, -5)]),  # =>
        ("examples", "square", [({"n": 3}, 9)]),  # ==, after text on the line
        ("examples", "shout", [({"word": "hi"}, "HI!")]),  # ->
        ("examples", "total", [({"values": [1, 2, 3]}, 6), ({"values": []}, 0)]),  # ➞
        ("examples", "swap", [({"pair": [1, 2]}, [2, 1])]),  # →, tuples as lists
        ("units", "to_metres", [({"millimetres": 1500}, 1.5)]),
        ("geometry", "shoelace_area", [({"points": [[0, 0], [2, 0], [2, 2], [0, 2]]}, 4.0)]),
    ],
)
def test_written_examples_give_inputs_and_expected_outputs(
    module: str, name: str, expected: list[tuple[dict[str, Any], Any]]
) -> None:
    program = programs(module)[name]
    assert examples(program) == expected
    assert origin(program) == "docstring"


def _within_caps(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return abs(value) <= MAX_INT
    if isinstance(value, float):
        return math.isfinite(value) and abs(value) <= MAX_INT
    if isinstance(value, str):
        return len(value) <= MAX_CHARS
    if isinstance(value, list):
        return len(value) <= MAX_ITEMS and all(_within_caps(item) for item in value)
    assert isinstance(value, dict)
    return len(value) <= MAX_ITEMS and all(_within_caps(k) and _within_caps(v) for k, v in value.items())


def generated_inputs(settings: PyfilesConfig = SETTINGS) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [json.loads(item["input_json"]) for item in program["inputs"]]
        for name, program in programs("generated", settings).items()
    }


def test_inputs_generated_from_type_hints_are_distinct_typed_and_small() -> None:
    found = programs("generated")
    assert {origin(program) for program in found.values()} == {"generated"}
    inputs = generated_inputs()
    assert {name: len(items) for name, items in inputs.items()} == dict.fromkeys(
        ["clamp", "mean", "greet", "lookup", "span", "padded", "counter"], SETTINGS.generated_inputs
    )
    for name, items in inputs.items():
        assert len({json.dumps(item, sort_keys=True) for item in items}) == len(items), name
        assert all(_within_caps(item) for item in items), name
        assert all(item["expected_output_json"] is None for item in found[name]["inputs"])
    assert all(set(item) == {"value", "low", "high"} for item in inputs["clamp"])
    assert all(set(item) == {"value"} for item in inputs["padded"])  # `width=4` has no hint: its default
    assert all(item["value"] is None or isinstance(item["value"], int) for item in inputs["padded"])
    assert all(isinstance(v, float) for item in inputs["mean"] for v in item["values"])
    assert all(isinstance(item["name"], str) and isinstance(item["loud"], bool) for item in inputs["greet"])
    assert all(item["key"] is None or isinstance(item["key"], str) for item in inputs["lookup"])
    assert all(isinstance(item["table"], dict) for item in inputs["lookup"])
    assert all(item["mode"] in ("open", "closed") and len(item["bounds"]) == 2 for item in inputs["span"])
    assert (
        programs("generated")["padded"]["io_requirements"]
        == "def padded(value: 'int | None', width=4) -> str"
    )


def test_generated_inputs_follow_the_seed() -> None:
    first = generated_inputs()
    assert generated_inputs() == first
    assert generated_inputs(PyfilesConfig(seed=1)) != first
    assert {len(items) for items in generated_inputs(PyfilesConfig(generated_inputs=2)).values()} == {2}


MEAN = "def mean(values: list[float], offset: int) -> float:\n    return sum(values) / len(values) + offset\n"


def many_mean_inputs() -> list[dict[str, str | None]]:
    [row] = parse_pyfile("mean.py", MEAN, PyfilesConfig(generated_inputs=50))
    assert isinstance(row, dict)
    return row["inputs"]


def test_generated_inputs_are_the_same_in_another_process(tmp_path: Path) -> None:
    """Whatever else the process has loaded: left alone, Hypothesis now and then draws a constant
    found in the source of the loaded modules (and caches them in ``.hypothesis/`` of the working
    folder), which made these 50 draws differ."""
    # Hypothesis skips small ints (|n| < 100): these fit the int caps (±100) and the float draws
    baits = [n for m in range(100, 10_000, 97) for n in (m, -m)]
    (tmp_path / "constants_bait.py").write_text(
        "".join(f"C{i} = {n}\n" for i, n in enumerate(baits)), encoding="utf-8"
    )
    script = textwrap.dedent(f"""\
        import json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        import constants_bait
        from tests.test_pyfiles import many_mean_inputs
        print(json.dumps(many_mean_inputs()))
    """)
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == many_mean_inputs()
    assert list(tmp_path.iterdir()) == [tmp_path / "constants_bait.py"]  # no .hypothesis/ written


def test_each_reason_rejects_its_function() -> None:
    assert rejections("rejects") == [
        (
            "unsupported_parameter",
            "traced (line 16): parameter function: Callable[[int], int] has no JSON form",
        ),
        ("async_function", "fetch (line 20): async def"),
        ("generator_function", "count_up (line 24): returns a generator, not a value"),
        ("unsupported_decorator", "decorated (line 29): decorated with @traced"),
        ("positional_only_parameter", "head (line 33): items cannot be given as keywords"),
        ("variadic_only", "collect (line 37): takes only *args/**kwargs"),
        ("no_parameters", "answer (line 41): takes no parameters"),
        ("undefined_name", "uses_missing (line 45): reads MISSING, defined nowhere"),
        (
            "imports_tree_module",
            "imports_inside (line 57): needs `from .units import to_metres` within a statement: only"
            " module-level imports of the tree are bundled",
        ),
        ("mutates_global", "bump (line 63): declares `global COUNTER`"),
        ("no_inputs", "untyped (line 69): parameter n has no type hint and no example"),
        ("unsupported_parameter", "area (line 73): parameter shape: Shape has no JSON form"),
        ("unsupported_parameter", "tagged (line 77): parameter tags: set[str] has no JSON form"),
    ]
    # _private is no candidate, and the __main__ block is never read; the functions that import
    # the tree's modules at module level take what they need from toolkit.units
    assert sorted(programs("rejects")) == ["in_metres", "scaled"]


def test_a_module_that_does_not_compile_is_one_rejection() -> None:
    for text in ("def f(:\n    pass\n", "return 1\n", "x = 1\0\n"):
        [rejection] = parse_text(text)
        assert isinstance(rejection, Rejection)
        assert rejection.reason == IngestReason.SYNTAX_ERROR


def test_overloads_redefinitions_star_imports_and_the_main_block() -> None:
    rows = parse_text('''
        import json, os
        from typing import overload

        TABLE = {}
        TABLE["a"] = 1
        TABLE.update(b=2)


        def get(key: str) -> int:
            return 0


        @overload
        def get(key: str) -> int: ...
        @overload
        def get(key: None) -> None: ...
        def get(key: str | None) -> int | None:
            """get("a") -> 1"""
            return None if key is None else TABLE[key]


        def dump(key: str) -> str:
            """dump("b") -> '2'"""
            return json.dumps(get(key))


        def shadowed(n: int) -> int:
            return n


        shadowed = None


        def main_only(n: int) -> int:
            return n + MAIN_ONLY


        if __name__ == "__main__":
            MAIN_ONLY = 1
    ''')
    found = {row["entry_point"]: row for row in rows if isinstance(row, dict)}
    assert sorted(found) == ["dump", "get"]  # `shadowed` is None when the module has run
    get_code = textwrap.dedent('''\
        TABLE = {}
        TABLE["a"] = 1
        TABLE.update(b=2)


        def get(key: str | None) -> int | None:
            """get("a") -> 1"""
            return None if key is None else TABLE[key]
        ''')
    assert found["get"]["code"] == get_code
    dump_code = found["dump"]["code"]
    assert (
        dump_code
        == "import json\n\n"
        + get_code
        + '\n\ndef dump(key: str) -> str:\n    """dump("b") -> \'2\'"""\n    return json.dumps(get(key))\n'
    )
    assert (found["get"]["source"], found["get"]["category"]) == ("pkg/mod.py", "mod")  # no tree given
    [rejection] = [row for row in rows if isinstance(row, Rejection)]
    assert rejection == Rejection(
        "undefined_name", "main_only (line 35): reads MAIN_ONLY, defined nowhere", 35
    )


def test_a_name_defined_nowhere_may_come_from_a_star_import() -> None:
    [circle] = parse_text('''
        from math import *
        from os.path import join


        def circle(r: float) -> float:
            """circle(r=1.0) == 3.141592653589793"""
            return pi * r * r
    ''')
    assert isinstance(circle, dict)
    assert circle["code"].startswith("from math import *\n\n\ndef circle(")
    assert examples(circle) == [({"r": 1.0}, math.pi)]


@pytest.fixture(scope="module")
def sandbox() -> Any:
    with Sandbox(workers=1) as box:
        yield box


def test_fixture_programs_run_in_the_sandbox_as_their_docstrings_say(sandbox: Sandbox) -> None:
    runs: Counter[str] = Counter()
    for module in ALL_MODULES + LINKED_MODULES:
        for program in programs(module).values():
            for item in program["inputs"]:
                result = sandbox.run(program["code"], program["entry_point"], item["input_json"])
                assert result.status == Status.OK, (program["entry_point"], item, result.error)
                if item["expected_output_json"] is not None:
                    assert result.return_json is not None
                    expected = json.loads(item["expected_output_json"])
                    assert values_equal(json.loads(result.return_json), expected), (
                        program["entry_point"],
                        item,
                    )
                runs[origin(program)] += 1
    generated = SETTINGS.generated_inputs
    assert runs == {"doctest": 8, "docstring": 11 + 11, "generated": 40 + 3 * generated + 2 * generated}


def test_an_installed_package_parses_without_error() -> None:
    """A real tree: every function of ``packaging`` (which pytest needs) gets a program or a
    named reason; the counts are printed (``pytest -s``)."""
    spec = importlib.util.find_spec("packaging")
    assert spec is not None and spec.submodule_search_locations
    root = spec.submodule_search_locations[0]
    paths = sorted(str(path) for path in Path(root).rglob("*.py"))
    tree = scan_tree(root, paths)
    outcomes: Counter[str] = Counter()
    for path in paths:
        for row in parse_pyfile(path, Path(path).read_text(encoding="utf-8"), SETTINGS, tree, read_file):
            if isinstance(row, Rejection):
                assert row.reason in set(IngestReason)
                outcomes[row.reason] += 1
            else:
                compile(row["code"], row["source"], "exec")
                outcomes[f"program ({origin(row)})"] += 1
    print(f"\npyfiles:{root}: {len(paths)} files;", ", ".join(f"{k} {n}" for k, n in outcomes.most_common()))
    assert sum(n for k, n in outcomes.items() if k.startswith("program")) > 0

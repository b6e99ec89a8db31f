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

from tracepile.analysis.values import decode, values_equal
from tracepile.config import PyfilesConfig
from tracepile.sources.pyfiles import (
    TREE_CODE_BUDGET,
    FileReader,
    PyTree,
    parse_pyfile,
    scan_tree,
)
from tracepile.sources.pyfiles_examples import strip_docstring_examples
from tracepile.sources.pyfiles_hints import MAX_CHARS, MAX_INT, MAX_ITEMS
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
    """Each input and its expected output (None where the docstring does not show it)."""
    return [
        (
            decode(item["input_json"]),
            None if (output := item["expected_output_json"]) is None else decode(output),
        )
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
    # 3 of toolkit's own take what they need from toolkit.units; 2 of its rejects are programs now:
    # answer() is called with no arguments, tagged(tags: set[str]) is given drawn sets
    assert len(rows) == 24 + 3 + 13 + 2
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
            """Euclidean distance between two points."""
            return _rounded(Point(x2 - x1, y2 - y1).norm())
        ''')
    assert found["shoelace_area"]["code"] == textwrap.dedent('''\
        from __future__ import annotations

        PRECISION = 3


        def _rounded(value: float) -> float:
            return round(value, PRECISION)


        def shoelace_area(points: list[list[float]]) -> float:
            """Area of a simple polygon from its vertices in order."""
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
    # no answer in the prompt: the examples are out of the docstring shown, and of the problem
    assert distance["problem"] == "Euclidean distance between two points."
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
            """Millimetres to metres."""
            return millimetres / SCALE


        def scaled(length: float) -> float:
            return to_metres(length) * SCALE
        ''')
    top = programs("linked/top")
    # a chain of modules: top takes `scale` from middle, which takes `UNIT` and `clip` from base;
    # each module's units after those of the modules it imports from, none of those imports; a
    # docstring that was only an example (`"""clip(150) ==> 100"""`) is gone
    assert top["scaled_twice"]["code"] == textwrap.dedent("""\
        UNIT = 10
        LIMITS = (0, 100)


        def clip(value: int) -> int:
            low, high = LIMITS
            return max(low, min(high, value))


        def scale(value: int) -> int:
            return clip(value * UNIT)


        def scaled_twice(value: int) -> int:
            return scale(scale(value))
        """)
    # a name imported under another: its definition, then the other name bound to it
    assert top["in_units"]["code"] == textwrap.dedent("""\
        UNIT = 10
        BASE_UNIT = UNIT


        def in_units(length: int) -> float:
            return length / BASE_UNIT
        """)
    # a name the package's __init__ imports from base: taken from base, where it is defined
    assert top["per_unit"]["code"] == textwrap.dedent("""\
        UNIT = 10


        def per_unit(total: int) -> float:
            return total / UNIT
        """)
    # modules imported as namespaces (`from . import middle`): `middle.root` is read as `root`;
    # the imports of all the modules come first, each once
    assert top["clipped_root"]["code"] == textwrap.dedent("""\
        import math

        LIMITS = (0, 100)
        PRECISION = 3


        def clip(value: int) -> int:
            low, high = LIMITS
            return max(low, min(high, value))


        def rounded(value: float) -> float:
            return round(value, PRECISION)


        def root(value: float) -> float:
            return rounded(math.sqrt(value))


        def clipped_root(value: float) -> int:
            return clip(int(root(value)))
        """)
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
    assert found["fib"]["code"] == textwrap.dedent("""\
        import functools


        @functools.lru_cache(maxsize=64)
        def fib(n: int) -> int:
            return n if n < 2 else fib(n - 1) + fib(n - 2)
        """)
    assert found["staircase"]["code"].startswith(
        "from functools import lru_cache\n\n\n@lru_cache\ndef staircase("
    )
    assert {row["domain"] for row in found.values()} == {"algorithms"}
    assert programs("units")["to_metres"]["domain"] == "general"


def test_doctests_give_inputs_and_expected_outputs() -> None:
    found = programs("examples")
    # the first example of an input wins; a comparison shown True gives its literal as the output,
    # a call inside print and one whose output is no literal give their inputs with no output (they
    # were skipped whole: a gap); too many arguments, an exception and a missing argument are
    # skipped; each is counted
    assert examples(found["add"]) == [
        ({"a": 1, "b": 2}, 3), ({"a": 5}, 5), ({"a": 1, "b": 1}, None), ({"a": 2, "b": 2}, 4),
        ({"a": 7, "b": 1}, None),
    ]  # fmt: skip
    assert json.loads(found["add"]["meta_json"])["skipped_examples"] == {
        "does_not_bind": 2, "not_a_plain_call": 1, "output_not_literal": 1, "raises": 1,
    }  # fmt: skip
    # values as Python has them: tuples stay tuples (they were lists: a bug), sets are values
    assert examples(found["pair"]) == [
        ({"a": 1, "b": 2}, (1, 2)),
        ({"a": [1, 2], "b": {"k": (3,)}}, ([1, 2], {"k": (3,)})),
    ]
    assert found["clear"]["inputs"] == [{"input_json": '{"table":{"a":1}}', "expected_output_json": "null"}]
    assert examples(found["unique"]) == [({"items": [1, 1, 2]}, {1, 2}), ({"items": {1}}, [1])]
    assert {origin(found[name]) for name in ("add", "pair", "clear", "unique")} == {"doctest"}
    assert "skipped_examples" not in json.loads(found["pair"]["meta_json"])


@pytest.mark.parametrize(
    ("module", "name", "expected"),
    [
        ("examples", "double", [({"n": 2}, 4), ({"n": -3}, -6)]),  # ==>
        ("examples", "negate", [({"n": 5}, -5)]),  # =>
        ("examples", "square", [({"n": 3}, 9)]),  # ==, after text on the line
        ("examples", "shout", [({"word": "hi"}, "HI!")]),  # ->
        ("examples", "total", [({"values": [1, 2, 3]}, 6), ({"values": []}, 0)]),  # ➞
        ("examples", "swap", [({"pair": (1, 2)}, (2, 1))]),  # →
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
    if isinstance(value, str | bytes):
        return len(value) <= MAX_CHARS
    if isinstance(value, list | tuple | set | frozenset):
        return len(value) <= MAX_ITEMS and all(_within_caps(item) for item in value)
    assert isinstance(value, dict)
    return len(value) <= MAX_ITEMS and all(_within_caps(k) and _within_caps(v) for k, v in value.items())


def generated_inputs(settings: PyfilesConfig = SETTINGS) -> dict[str, list[dict[str, Any]]]:
    return {
        name: [decode(item["input_json"]) for item in program["inputs"]]
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
        assert len({item["input_json"] for item in found[name]["inputs"]}) == len(items), name
        assert all(_within_caps(item) for item in items), name
        assert all(item["expected_output_json"] is None for item in found[name]["inputs"])
    assert all(set(item) == {"value", "low", "high"} for item in inputs["clamp"])
    # `width=4` has no hint: drawn as its default's type, an int, and left at its default in some
    # inputs (it always was: a bug, the type is clear from the default)
    assert all(
        set(item) <= {"value", "width"} and isinstance(item.get("width", 4), int) for item in inputs["padded"]
    )
    assert all(item["value"] is None or isinstance(item["value"], int) for item in inputs["padded"])
    assert all(isinstance(v, float) for item in inputs["mean"] for v in item["values"])
    assert all(isinstance(item["name"], str) and isinstance(item["loud"], bool) for item in inputs["greet"])
    assert all(item["key"] is None or isinstance(item["key"], str) for item in inputs["lookup"])
    assert all(isinstance(item["table"], dict) for item in inputs["lookup"])
    # a tuple stays a tuple (it was drawn as a list: a bug)
    assert all(item["mode"] in ("open", "closed") for item in inputs["span"])
    assert all(isinstance(item["bounds"], tuple) and len(item["bounds"]) == 2 for item in inputs["span"])
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


# A reject says what the user can do (they only named the problem: a bug).
GIVE = "give it a doctest calling it with literal arguments, or type hints such as int, str, list[int]"
CALLABLE = f"Callable[[int], int]: {GIVE}"
DECORATORS = "only functools decorators and the module's own decorators made with functools.wraps are run"


def test_each_reason_rejects_its_function() -> None:
    assert rejections("rejects") == [
        (
            "unsupported_parameter",
            f"traced (line 16): parameter function: no inputs are drawn for {CALLABLE}",
        ),
        ("async_function", "fetch (line 20): async def"),
        ("generator_function", "count_up (line 24): returns a generator, not a value"),
        ("unsupported_decorator", f"decorated (line 29): decorated with @traced: {DECORATORS}"),
        ("positional_only_parameter", "head (line 33): items cannot be given as keywords"),
        ("variadic_only", "collect (line 37): takes only *args/**kwargs"),
        ("undefined_name", "uses_missing (line 45): reads MISSING, defined nowhere"),
        (
            "imports_tree_module",
            "imports_inside (line 57): needs `from .units import to_metres` within a statement: only"
            " module-level imports of the tree are bundled",
        ),
        ("mutates_global", "bump (line 63): declares `global COUNTER`"),
        ("no_inputs", f"untyped (line 69): parameter n has no type hint and no example: {GIVE}"),
        ("unsupported_parameter", f"area (line 73): parameter shape: no inputs are drawn for Shape: {GIVE}"),
    ]
    # _private is no candidate, and the __main__ block is never read; the functions that import
    # the tree's modules at module level take what they need from toolkit.units
    # (answer() and tagged(tags: set[str]) were rejected too: no_parameters, and no draws for sets)
    assert sorted(programs("rejects")) == ["answer", "in_metres", "scaled", "tagged"]


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
    get_code = textwrap.dedent("""\
        TABLE = {}
        TABLE["a"] = 1
        TABLE.update(b=2)


        def get(key: str | None) -> int | None:
            return None if key is None else TABLE[key]
        """)
    assert found["get"]["code"] == get_code
    dump_code = found["dump"]["code"]
    assert (
        dump_code
        == "import json\n\n" + get_code + "\n\ndef dump(key: str) -> str:\n    return json.dumps(get(key))\n"
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
    wrong: list[tuple[str, str]] = []
    for module in ALL_MODULES + LINKED_MODULES:
        for program in programs(module).values():
            for item in program["inputs"]:
                result = sandbox.run(program["code"], program["entry_point"], item["input_json"])
                assert result.status == Status.OK, (program["entry_point"], item, result.error)
                if item["expected_output_json"] is not None:
                    assert result.return_json is not None
                    if not values_equal(decode(result.return_json), decode(item["expected_output_json"])):
                        wrong.append((program["entry_point"], item["input_json"]))
                runs[origin(program)] += 1
    # the one example that does not hold: `unique([1, 1, 2])` shows {1, 2}, the function returns
    # [1, 2] (a set had no form before, so the example was never asked)
    assert wrong == [("unique", '{"items":[1,1,2]}')]
    generated = SETTINGS.generated_inputs
    # `unique`'s doctests give inputs now that a set is a value: its inputs were generated; `add(2, 2)
    # == 4`, `print(add(1, 1))` and `add(7, 1)` (shown as no literal) give one each;
    # rejects.tagged(set[str]) gets drawn sets, rejects.answer() is called bare
    assert runs == {
        "doctest": 8 + 2 + 3,
        "docstring": 11 + 11,
        "generated": 36 + 3 * generated + 2 * generated + generated,
        "no_arguments": 1,
    }


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


STATE = '''
    import json
    import os

    END = "#"
    TRIE: dict = {}
    for word in ("car", "cat", "dog"):
        node = TRIE
        for char in word:
            node = node.setdefault(char, {})
        node[END] = True

    FIB = [0, 1]
    while len(FIB) < 20:
        FIB.append(FIB[-1] + FIB[-2])

    if len(FIB) > 10:
        FIB.append(-1)
    else:
        FIB.clear()

    try:
        LIMIT = int("12")
    except ValueError:
        LIMIT = 0

    SQUARES = {}
    with open(os.devnull) as sink:
        SQUARES.update({n: n * n for n in range(3)})

    print(json.dumps(FIB))  # output, not state: never bundled
    for word in ("cow",):
        print(word)


    def starts(prefix: str) -> bool:
        """Whether a word starts with ``prefix``.

        >>> starts("ca")
        True
        >>> starts("co")
        False
        """
        node = TRIE
        for char in prefix:
            if char not in node:
                return False
            node = node[char]
        return True


    def fib(n: int) -> int:
        """fib(10) ==> 55"""
        return FIB[n] if n < LIMIT else -2


    def square(n: int) -> int:
        """square(2) ==> 4"""
        return SQUARES[n]


    if __name__ == "__main__":
        TRIE.clear()
'''


def test_module_level_statements_that_build_state_are_bundled_in_source_order(sandbox: Sandbox) -> None:
    """A `for`, `while`, `if`, `with` or `try` at module level that fills what a function reads
    runs before it, as in the module (the bundle ran on an empty trie: a wrong answer in gold)."""
    found = {row["entry_point"]: row for row in parse_text(STATE) if isinstance(row, dict)}
    assert found["starts"]["code"] == textwrap.dedent('''\
        END = "#"
        TRIE: dict = {}
        for word in ("car", "cat", "dog"):
            node = TRIE
            for char in word:
                node = node.setdefault(char, {})
            node[END] = True


        def starts(prefix: str) -> bool:
            """Whether a word starts with ``prefix``."""
            node = TRIE
            for char in prefix:
                if char not in node:
                    return False
                node = node[char]
            return True
        ''')
    fib = found["fib"]["code"]
    assert (
        fib.index("while len(FIB)") < fib.index("if len(FIB) > 10") < fib.index("try:") < fib.index("def fib")
    )
    assert "print" not in fib and "TRIE" not in fib
    # a `with` that opens a file is kept where it fills a table: the sandbox's filters reject it
    assert "with open(os.devnull) as sink:" in found["square"]["code"]
    for name in ("starts", "fib"):
        program = found[name]
        for item in program["inputs"]:
            result = sandbox.run(program["code"], program["entry_point"], item["input_json"])
            assert result.status == Status.OK, (name, result.error)
            assert result.return_json == item["expected_output_json"], (name, item)


DECORATED = """
    import functools
    from functools import cache, lru_cache, wraps


    def logged(function):
        @wraps(function)
        def wrapper(*args, **kwargs):
            return function(*args, **kwargs)

        return wrapper


    def retry(times):
        def decorate(function):
            @functools.wraps(function)
            def wrapper(*args, **kwargs):
                return function(*args, **kwargs)

            return wrapper

        return decorate


    def plain(function):
        return lambda n: 0


    @functools.cache
    def a(n: int) -> int:
        return n


    @lru_cache(maxsize=None)
    def b(n: int) -> int:
        return n


    @cache
    def c(n: int) -> int:
        return n


    @logged
    def d(n: int) -> int:
        return n


    @retry(3)
    def e(n: int) -> int:
        return n


    @plain
    def f(n: int) -> int:
        return n
"""


def test_functools_and_wraps_style_decorators_are_accepted_and_kept() -> None:
    rows = parse_text(DECORATED)
    found = {row["entry_point"]: row["code"] for row in rows if isinstance(row, dict)}
    assert sorted(found) == ["a", "b", "c", "d", "e"]
    assert "@functools.cache\ndef a(" in found["a"]
    assert "@lru_cache(maxsize=None)\ndef b(" in found["b"]
    assert found["c"].startswith("from functools import cache\n\n\n@cache\ndef c(")
    assert found["d"].startswith("from functools import wraps\n\n\ndef logged(function):")
    assert "import functools\n\n\ndef retry(times):" in found["e"] and "@retry(3)\ndef e(" in found["e"]
    rejected = [(row.reason, row.detail) for row in rows if isinstance(row, Rejection)]
    assert ("unsupported_decorator", f"f (line 55): decorated with @plain: {DECORATORS}") in rejected
    assert {reason for reason, _ in rejected} == {"unsupported_decorator", "no_inputs"}  # untyped: no inputs
    for name, code in found.items():  # each runs as the module does, its body under the decorator
        namespace: dict[str, Any] = {}
        exec(compile(code, "bundle.py", "exec"), namespace)
        function = namespace[name]
        assert function(n=7) == 7
        assert getattr(function, "__wrapped__", function).__code__.co_name == name


SETUP = '''
    import random


    def smallest(values: list, start: int = 0) -> int:
        """The smallest value from ``start`` on.

        >>> x = [3, 1, 2]
        >>> smallest(x)
        1
        >>> smallest(x, start=2)
        2
        >>> low, high = 0, (5, 4)
        >>> smallest(high, low)
        4
        >>> g = Graph()
        >>> smallest(g)
        0
        >>> y = [9, 8]
        >>> y.append(7)
        >>> smallest(y)
        7
        >>> smallest(values=[5])
        5
        >>> random.seed(0)
        >>> smallest([4, 6])
        4
        """
        return min(values[start:])
'''


def test_doctests_with_setup_lines_give_inputs_where_the_setup_binds_literals() -> None:
    """`>>> x = [3, 1, 2]` then `>>> smallest(x)`: the literal stands in for the name; what the
    setup does otherwise is skipped, counted, and named in the program's meta."""
    [program] = parse_text(SETUP)
    assert isinstance(program, dict)
    assert examples(program) == [
        ({"values": [3, 1, 2]}, 1),
        ({"values": (5, 4), "start": 0}, 4),
        ({"values": [5]}, 5),
    ]
    assert json.loads(program["meta_json"])["skipped_examples"] == {
        "argument_not_literal": 1,  # g = Graph()
        "argument_may_have_changed": 2,  # y.append(7), and `smallest(x)`: a call may change its list
        "after_state_change": 1,  # random.seed(0)
    }
    # the code and problem shown hold none of it
    assert ">>>" not in program["code"] and program["problem"] == "The smallest value from ``start`` on."


def test_a_function_whose_doctests_give_nothing_says_why_and_what_to_do() -> None:
    [rejection] = parse_text('''
        def walk(graph):
            """
            >>> g = Graph()
            >>> walk(g)
            [1]
            >>> walk({1, 2})
            Traceback (most recent call last):
            TypeError: no
            """
    ''')
    assert isinstance(rejection, Rejection)
    assert (rejection.reason, rejection.detail) == (
        "no_inputs",
        f"walk (line 2): parameter graph has no type hint and no example: {GIVE}; its doctests give no"
        " input: 1 argument_not_literal (first: line 5: argument `graph` is `g`, bound by `g = Graph()`"
        " (line 4), not a literal); 1 raises (first: line 7: `walk({1, 2})`)",
    )


def test_a_syntax_error_names_the_python_that_reads_it() -> None:
    [rejection] = parse_text(
        "class Stack[T]:\n    pass\n" if sys.version_info < (3, 12) else "except A, B:\n"
    )
    assert isinstance(rejection, Rejection) and rejection.reason == IngestReason.SYNTAX_ERROR
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f"read by the Python {version} parser: code written for a newer Python" in rejection.detail


@pytest.mark.parametrize(
    ("docstring", "shown"),
    [
        # the examples, their outputs and a heading left empty go; the description stays
        ("Sum.\n\n    Examples:\n    >>> f(1)\n    2\n    ", "Sum."),
        ("\n    Sum.\n\n    >>> f(1)\n    2\n\n    More text.\n    ", "\n    Sum.\n\n    More text.\n    "),
        ("f(2) ==> 4", None),  # a docstring that was only an example goes
        ("Twice.\n\n    For example: f(2) == 4\n    ", "Twice."),
        ("Doubles.\n\n    # >>> f(-1)\n    # -2\n    ", "Doubles."),  # commented out: it shows the answer too
        ("Tab\\tstop.\n\n    >>> f(1)\n    2\n    ", "Tab\tstop."),  # an escape: a fresh literal
    ],
)
def test_examples_are_taken_out_of_the_docstrings_shown(docstring: str, shown: str | None) -> None:
    source = f'def f(n: int) -> int:\n    """{docstring}"""\n    return 2 * n\n'
    stripped = strip_docstring_examples(source, frozenset({"f"}))
    [function] = ast.parse(stripped).body
    assert isinstance(function, ast.FunctionDef)
    value = ast.get_docstring(function, clean=False)
    assert value == (None if shown is None else ast.literal_eval(f'"""{shown}"""'))
    assert ast.dump(function.body[-1]) == ast.dump(ast.parse(source).body[0].body[-1])  # type: ignore[attr-defined]

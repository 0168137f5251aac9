"""Standard-cell libraries: where the Liberty file is, a plain copy for the tools, and its data.

Finding the library (:func:`find_liberty`), first match wins:

1. an explicit path (``--liberty FILE``), plain or gzip-compressed;
2. the environment variable ``LOWBIT_LIBERTY`` (a file);
3. ``$PDK_ROOT/sky130A/libs.ref/sky130_fd_sc_hd/lib/sky130_fd_sc_hd__tt_025C_1v80.lib`` (or
   ``.lib.gz``), the layout of a PDK installed by volare or open_pdks;
4. the project's shared copy, ``../shared/pdk/sky130_fd_sc_hd__tt_025C_1v80.lib.gz`` beside the
   repository clone (how the tests and CI find it; it is never part of the repository).

Without any of them the standard-cell target is skipped with :data:`LIBERTY_HINT`.

The YoWASP Yosys has no zlib and OpenSTA reads plain files, so :func:`materialize` decompresses
(or copies) the library once into ``<build>/liberty/<sha256 prefix>/``, keyed by the file's
hash: a changed library gets a new folder, an unchanged one is never decompressed twice.

:func:`read_cells` is a small Liberty reader (groups, simple and complex attributes) for the few
cells a check needs; the tools read the whole library themselves.
"""

import gzip
import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from lowbit.core.errors import LowbitError

__all__ = ["SKY130_HD_TT", "LIBERTY_HINT", "REPO_ROOT", "find_liberty", "materialize",
           "Library", "read_cells", "library_id", "internal_energy"]

SKY130_HD_TT = "sky130_fd_sc_hd__tt_025C_1v80.lib"
REPO_ROOT = Path(__file__).resolve().parent.parent
_PDK_LAYOUT = Path("sky130A/libs.ref/sky130_fd_sc_hd/lib")
_SHARED_COPY = Path("../shared/pdk") / f"{SKY130_HD_TT}.gz"

LIBERTY_HINT = ("no standard-cell library: pass --liberty FILE (a Liberty .lib or .lib.gz), or "
                "set PDK_ROOT to a sky130 PDK (e.g. `pip install volare && volare enable "
                "--pdk sky130 <version>`), which has " f"$PDK_ROOT/{_PDK_LAYOUT}/{SKY130_HD_TT}")


def _existing(path):
    for candidate in (path, path.with_name(path.name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def find_liberty(explicit=None, *, root=REPO_ROOT, environ=None):
    """The Liberty file to use (a ``Path``), or None if there is none (see the module doc).

    Raises ``LowbitError`` if ``explicit`` or ``LOWBIT_LIBERTY`` names a file that is not there.
    """
    environ = os.environ if environ is None else environ
    for name, value in (("--liberty", explicit), ("LOWBIT_LIBERTY", environ.get("LOWBIT_LIBERTY"))):
        if value:
            path = Path(value).expanduser()
            if not path.is_file():
                raise LowbitError(f"{name} {value}: no such file (a Liberty .lib or .lib.gz)")
            return path
    if environ.get("PDK_ROOT"):
        found = _existing(Path(environ["PDK_ROOT"]).expanduser() / _PDK_LAYOUT / SKY130_HD_TT)
        if found:
            return found
    shared = (Path(root) / _SHARED_COPY).resolve()
    return shared if shared.is_file() else None


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_gzip(path):
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def materialize(liberty, build_dir):
    """A plain copy of ``liberty`` under ``build_dir/liberty/<sha256[:16]>/``; returns its path.

    The copy is written to a temporary name and renamed, so concurrent runs never read a half
    written file; an existing copy is reused.
    """
    liberty = Path(liberty)
    digest = _sha256(liberty)
    name = liberty.name[:-3] if liberty.name.endswith(".gz") else liberty.name
    if not name.endswith(".lib"):
        name += ".lib"
    folder = Path(build_dir) / "liberty" / digest[:16]
    target = folder / name
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if _is_gzip(liberty) else open
    with tempfile.NamedTemporaryFile(dir=folder, delete=False, suffix=".part") as out:
        try:
            with opener(liberty, "rb") as src:
                shutil.copyfileobj(src, out)
        except (OSError, EOFError) as error:
            os.unlink(out.name)
            raise LowbitError(f"cannot read the Liberty file {liberty}: {error}") from None
    os.replace(out.name, target)
    return target


def library_id(liberty):
    """``"<file name> (sha256 <first 12 hex digits>)"``, the library as a record names it."""
    return f"{Path(liberty).name} (sha256 {_sha256(liberty)[:12]})"


# --- a small Liberty reader -------------------------------------------------------------------

@dataclass
class Group:
    """A Liberty group: ``kind ("name", ...) { attributes; groups }``."""
    kind: str
    args: list
    attrs: dict = field(default_factory=dict)      # simple attributes: name -> str
    complex: dict = field(default_factory=dict)    # complex attributes: name -> [list of args]
    groups: list = field(default_factory=list)

    def sub(self, kind, name=None):
        """The child groups of ``kind`` (with first argument ``name`` if given)."""
        return [g for g in self.groups if g.kind == kind and (name is None or g.args[:1] == [name])]

    def number(self, name, default=None):
        value = self.attrs.get(name)
        return default if value is None else float(value)


_TOKEN = re.compile(r'\s*(?:(/\*.*?\*/)|("(?:[^"\\]|\\.)*")|([{}();:,])|(\\\n)|([^\s{}();:,"]+))',
                    re.S)


def _tokens(text):
    pos, end = 0, len(text)
    while pos < end:
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos:].strip() == "":
                return
            raise LowbitError(f"cannot parse Liberty text near {text[pos:pos + 40]!r}")
        pos = match.end()
        comment, string, punct, _continuation, word = match.groups()
        if string is not None:
            yield string[1:-1]
        elif punct is not None:
            yield punct
        elif word is not None:
            yield word


def _parse_group(tokens, kind, args):
    group = Group(kind, args)
    for token in tokens:
        if token == "}":
            return group
        name = token
        nxt = next(tokens)
        if nxt == ":":
            value = next(tokens)
            following = next(tokens)
            if following != ";":   # a value of several words (rare); keep the first
                while following != ";":
                    following = next(tokens)
            group.attrs[name] = value
        elif nxt == "(":
            values = []
            for item in tokens:
                if item == ")":
                    break
                if item != ",":
                    values.append(item)
            after = next(tokens)
            if after == "{":
                group.groups.append(_parse_group(tokens, name, values))
            else:   # `;` or a missing one before the next attribute
                group.complex.setdefault(name, []).append(values)
                if after not in (";",):
                    raise LowbitError(f"Liberty: expected ';' after {name}(...), got {after!r}")
        else:
            raise LowbitError(f"Liberty: unexpected {nxt!r} after {name!r}")
    raise LowbitError("Liberty: unterminated group")


def _parse(text, kind, args):
    return _parse_group(iter(_tokens(text)), kind, args)


def _matching_brace(text, start):
    """Index just past the ``}`` matching the first ``{`` at or after ``start``."""
    depth, i = 0, text.index("{", start)
    for m in re.compile(r"/\*.*?\*/|\"(?:[^\"\\]|\\.)*\"|[{}]", re.S).finditer(text, i):
        token = m.group(0)
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth == 0:
                return m.end()
    raise LowbitError("Liberty: unbalanced braces")


@dataclass
class Library:
    """The header attributes of a library and the cells read from it.

    ``attrs``: the library's simple attributes (units, ``nom_voltage``, ...); ``cells``: name
    -> :class:`Group`; ``header``: the library group without its cells (wire-load models,
    templates, ...); ``voltage`` in V; ``cap_unit`` in F, ``time_unit`` in s,
    ``leakage_unit`` in W; internal-power tables are energies in ``cap_unit * V^2``.
    """
    attrs: dict
    cells: dict
    header: Group
    voltage: float
    cap_unit: float
    time_unit: float
    leakage_unit: float


_SI = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0}


def _unit(text, base):
    match = re.fullmatch(r"\s*([\d.]+)\s*([fpnum]?)" + base + r"\s*", text, re.I)
    if match is None:
        raise LowbitError(f"Liberty: cannot read the unit {text!r}")
    return float(match.group(1)) * _SI[match.group(2).lower()]


def read_cells(liberty, names):
    """Read the header and the cells ``names`` of the plain Liberty file ``liberty``."""
    text = Path(liberty).read_text(errors="replace")
    first_cell = re.search(r"^\s*cell\s*\(", text, re.M)
    header_text = text[text.index("{") + 1:first_cell.start() if first_cell else len(text)]
    # Header groups (operating conditions, tables) are parsed but only attributes are kept.
    header = _parse(header_text + "}", "library", [])
    cells = {}
    for name in names:
        match = re.search(r'^\s*cell\s*\(\s*"?' + re.escape(name) + r'"?\s*\)', text, re.M)
        if match is None:
            raise LowbitError(f"Liberty {liberty}: no cell {name}")
        end = _matching_brace(text, match.end())
        body = text[text.index("{", match.end()) + 1:end]
        cells[name] = _parse(body, "cell", [name])
    cap = header.complex.get("capacitive_load_unit", [["1", "pf"]])[0]
    conditions = header.sub("operating_conditions")
    voltage = header.number("nom_voltage") or (conditions[0].number("voltage") if conditions else None)
    return Library(attrs=header.attrs, cells=cells, header=header, voltage=voltage,
                   cap_unit=float(cap[0]) * _SI[cap[1].lower().removesuffix("f")],
                   time_unit=_unit(header.attrs.get("time_unit", "1ns"), "s"),
                   leakage_unit=_unit(header.attrs.get("leakage_power_unit", "1nW"), "W"))


def table(group):
    """``(index_1, index_2, values)`` of a lookup-table group as floats (index_2 may be [])."""
    def floats(key):
        items = group.complex.get(key, [[]])[0]
        return [float(x) for item in items for x in item.split(",") if x.strip()]
    index_1, index_2 = floats("index_1"), floats("index_2")
    rows = [[float(x) for x in row.split(",") if x.strip()] for row in group.complex["values"][0]]
    return index_1, index_2, rows


def interpolate(group, x1, x2=None):
    """Bilinear (or linear) interpolation of a Liberty table at ``(x1, x2)``, extrapolating
    linearly outside the index range as Liberty tools do."""
    index_1, index_2, rows = table(group)

    def bracket(index, x):
        if len(index) == 1:
            return 0, 0, 0.0
        i = max(0, min(len(index) - 2, next((k - 1 for k, v in enumerate(index) if v >= x),
                                            len(index) - 2)))
        return i, i + 1, (x - index[i]) / (index[i + 1] - index[i])

    if not index_2:
        values = rows[0] if len(rows) == 1 else [row[0] for row in rows]
        i, j, t = bracket(index_1, x1)
        return values[i] + t * (values[j] - values[i])
    i, j, t = bracket(index_1, x1)
    k, m, u = bracket(index_2, x2)
    low = rows[i][k] + u * (rows[i][m] - rows[i][k])
    high = rows[j][k] + u * (rows[j][m] - rows[j][k])
    return low + t * (high - low)


def internal_energy(group, slew_ns, cap_pf=None):
    """Mean of a Liberty ``internal_power`` group's rise and fall energies at the point."""
    tables = [t for t in group.groups if t.kind in ("rise_power", "fall_power")]
    if not tables:
        return 0.0
    values = []
    for t in tables:
        if "index_1" not in t.complex:   # a scalar table
            values.append(float(t.complex["values"][0][0].split(",")[0]))
        elif "index_2" in t.complex:
            values.append(interpolate(t, slew_ns, cap_pf))
        else:
            values.append(interpolate(t, slew_ns))
    return sum(values) / len(values)

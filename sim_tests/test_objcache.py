"""The Verilator runtime object cache (sim_tests/objcache.py): a runtime source is compiled
once and replayed after; anything else always runs."""

import sys

from lowbit.sim_tests import objcache

# A stand-in compiler: counts its runs and writes "<source>|<flag>" to the -o file and a .d file.
_FAKE_CXX = """
import sys, pathlib
out = pathlib.Path(sys.argv[sys.argv.index("-o") + 1])
count = pathlib.Path(sys.argv[1])
count.write_text(str(int(count.read_text() or 0) + 1) if count.exists() else "1")
out.write_text(sys.argv[-1] + "|" + sys.argv[2])
out.with_suffix(".d").write_text(out.name + ": " + sys.argv[-1])
"""


def test_runtime_sources_compile_once_and_others_always(tmp_path, monkeypatch):
    root = tmp_path / "verilator"
    (root / "include").mkdir(parents=True)
    runtime, model = root / "include" / "verilated.cpp", tmp_path / "Vtop__ALL.cpp"
    runtime.write_text("// runtime")
    model.write_text("// model")
    fake = tmp_path / "cxx.py"
    fake.write_text(_FAKE_CXX)
    counter = tmp_path / "runs"
    monkeypatch.setenv("VERILATOR_ROOT", str(root))
    monkeypatch.setenv("LOWBIT_OBJCACHE", str(tmp_path / "cache"))

    def compile_(build, source, flag="-Os"):
        build.mkdir(exist_ok=True)
        monkeypatch.chdir(build)
        obj = source.with_suffix(".o").name
        return objcache.main([sys.executable, str(fake), str(counter), flag, "-c", "-o", obj, str(source)])

    for build in ("a", "b"):
        assert compile_(tmp_path / build, runtime) == 0
        assert (tmp_path / build / "verilated.o").read_text() == f"{runtime}|-Os"
        assert (tmp_path / build / "verilated.d").read_text() == f"verilated.o: {runtime}"
    assert counter.read_text() == "1"                       # the second build replayed it
    assert compile_(tmp_path / "c", runtime, "-O0") == 0    # other flags: another entry
    assert counter.read_text() == "2"
    for build in ("a", "b"):
        assert compile_(tmp_path / build, model) == 0       # not a runtime source: always runs
    assert counter.read_text() == "4"

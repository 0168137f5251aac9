"""Compile Verilator's runtime library once, not once per simulation build.

Verilator's generated makefile compiles its runtime (``verilated*.cpp`` from the wheel's
``include`` folder) into every build folder: about 25 s of CPU per build, ten times what a unit's
own model costs, and the same object code every time. Its makefile runs every compiler command
behind ``$(OBJCACHE)``, meant for ccache, which this machine need not have; :func:`simulate`
points it at this module instead::

    OBJCACHE="python -m lowbit.sim_tests.objcache"   LOWBIT_OBJCACHE=~/.cache/lowbit/verilator-runtime

A command whose source lies under ``$VERILATOR_ROOT/include`` is looked up by a hash of the
whole command line (compiler, flags, defines, paths) and of the compiler's and the source's
modification times; on a hit the object and its dependency file are copied, on a miss the
command runs and its outputs are stored. Every other command (the model, cocotb's main) runs
unchanged. Entries are written to a temporary folder and renamed, so parallel builds never
read half an entry.
"""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path


def _runtime_source(argv):
    """The runtime source file this command compiles, or None."""
    root = os.environ.get("VERILATOR_ROOT")
    if not root or "-c" not in argv or "-o" not in argv or not argv[-1].endswith(".cpp"):
        return None
    source = Path(argv[-1]).resolve()
    return source if source.is_relative_to(Path(root).resolve() / "include") else None


def _key(argv, source):
    compiler = shutil.which(argv[0]) or argv[0]
    text = "\0".join([*argv, str(os.stat(compiler).st_mtime_ns), str(source.stat().st_mtime_ns)])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def main(argv):
    """Run (or replay) one compiler command ``argv``; returns its exit status."""
    cache = os.environ.get("LOWBIT_OBJCACHE")
    source = _runtime_source(argv) if cache else None
    if source is None:
        return subprocess.run(argv).returncode
    obj = Path(argv[argv.index("-o") + 1])
    dep = obj.with_suffix(".d")
    entry = Path(cache) / _key(argv, source)
    if (entry / "object").is_file():
        shutil.copyfile(entry / "object", obj)
        if (entry / "depend").is_file():
            shutil.copyfile(entry / "depend", dep)
        return 0
    status = subprocess.run(argv).returncode
    if status == 0:
        staging = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
        staging.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(obj, staging / "object")
        if dep.is_file():
            shutil.copyfile(dep, staging / "depend")
        try:
            staging.rename(entry)
        except OSError:   # a parallel build stored the same entry first
            shutil.rmtree(staging, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

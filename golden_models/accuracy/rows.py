"""The rows of the accuracy table: one way of running MiniLM each (weights, activations, softmax)."""

from dataclasses import dataclass

from lowbit.core.modes import DintCodebook

from .._checks import ParameterError

__all__ = ["Row", "ROWS", "EXTRAS", "DINT_VARIANTS", "SLAC_LENGTHS", "row_keys"]

# Packed calibration lengths (tokens) of the SLAC rows: the "plain" calibration (GPTQ's long
# segments) against which calibrating at the target length (single sentences) is measured.
SLAC_LENGTHS = (32, 128)


@dataclass(frozen=True)
class Row:
    """One row of the table.

    ``weights``: a key of :data:`~.weight_sets.WEIGHT_SETS` or None (float weights); ``act``: "a8" (INT8
    per token, symmetric or asymmetric by the run's ``a8``), "abq8", "abq4" (the ABQ per-token
    asymmetric quantizer) or None; ``softmax``: None, or ("float" | "fixed", bits) for EXAQ;
    ``extra``: the name of the option that adds the row (None: a default row).
    """

    key: str
    label: str
    weights: str = None
    act: str = None
    softmax: tuple = None
    extra: str = None


def _rows():
    rows = [
        Row("fp32", "FP32 (reference)"),
        Row("int8", "INT8 W, RTN (max scale)", "int8-rtn"),
        Row("int4-rtn", "INT4 W, RTN", "int4-rtn"),
        Row("int4-gptq", "INT4 W, GPTQ", "int4-gptq"),
        Row("int4-athena", "INT4 W, Athena (columns)", "int4-athena", extra="athena"),
        Row("dint4-rtn", "dINT4 W (half, f=1), RTN", "dint4-rtn"),
        Row("dint4-gptq", "dINT4 W (half, f=1), GPTQ", "dint4-gptq"),
        Row("dint4-athena", "dINT4 W (half, f=1), Athena (columns)", "dint4-athena", extra="athena"),
    ]
    for variant, (special, f) in DINT_VARIANTS.items():
        for method in ("rtn", "gptq"):
            rows.append(Row(f"dint4{variant}-{method}", f"dINT4 W ({special}, f={f}), {method.upper()}",
                            f"dint4{variant}-{method}", extra="dint_variants"))
    rows += [
        Row("pot4-rtn", "PoT4 W, RTN (max scale)", "pot4-rtn"),
        Row("pot4-2step", "PoT4 W, two-step", "pot4-2step"),
        Row("w2a8", "W2A8 bit-plane (ABQ)", "abq-w2", "abq8"),
        Row("w2a8-bal", "W2*A8 bit-plane (ABQ, bit balance)", "abq-w2bal", "abq8"),
        Row("w4a4", "W4A4 bit-plane (ABQ)", "abq-w4", "abq4"),
        Row("w2a8-dc", "W2A8 bit-plane (ABQ), distribution correction", "abq-w2-dc", "abq8", extra="dc"),
        Row("w2a8-bal-dc", "W2*A8 bit-plane (ABQ, bit balance), distribution correction", "abq-w2bal-dc", "abq8",
            extra="dc"),
        Row("w4a4-dc", "W4A4 bit-plane (ABQ), distribution correction", "abq-w4-dc", "abq4", extra="dc"),
        Row("exaq2", "EXAQ 2-bit softmax", softmax=("float", 2)),
        Row("exaq3", "EXAQ 3-bit softmax", softmax=("float", 3)),
        Row("exaq2-fixed", "EXAQ 2-bit softmax, fixed-point unit", softmax=("fixed", 2), extra="exaq_fixed"),
        Row("exaq3-fixed", "EXAQ 3-bit softmax, fixed-point unit", softmax=("fixed", 3), extra="exaq_fixed"),
        Row("int4-rtn-a8", "W4A8: INT4 W (RTN) x INT8 A", "int4-rtn", "a8"),
        Row("int4-gptq-a8", "W4A8: INT4 W (GPTQ) x INT8 A", "int4-gptq", "a8"),
        Row("dint4-rtn-a8", "W4A8: dINT4 W (RTN) x INT8 A", "dint4-rtn", "a8"),
        Row("dint4-gptq-a8", "W4A8: dINT4 W (GPTQ) x INT8 A", "dint4-gptq", "a8"),
        Row("pot4-rtn-a8", "W4A8: PoT4 W (RTN) x INT8 A", "pot4-rtn", "a8"),
        Row("pot4-2step-a8", "W4A8: PoT4 W (two-step) x INT8 A", "pot4-2step", "a8"),
    ]
    for fmt, name in (("int4", "INT4"), ("dint4", "dINT4")):
        rows += [
            Row(f"{fmt}-aqas-a8", f"W4A8: {name} W (RTN, AQAS) x INT8 A", f"{fmt}-aqas-rtn", "a8", extra="aqas"),
            Row(f"{fmt}-aqas-gptq-a8", f"W4A8: {name} W (GPTQ, AQAS) x INT8 A", f"{fmt}-aqas-gptq", "a8", extra="aqas"),
        ]
    # SLAC: the default rows calibrate on single sentences, the target length of the embeddings
    # evaluated here; these calibrate on packed groups instead (GPTQ's usual long segments).
    for fmt, name, length, aqas in (("int4", "INT4", 128, False), ("dint4", "dINT4", 32, False),
                                    ("dint4", "dINT4", 128, False), ("dint4", "dINT4", 128, True)):
        method = "AQAS, GPTQ" if aqas else "GPTQ"
        key = f"{fmt}-aqas-gptq-p{length}" if aqas else f"{fmt}-gptq-p{length}"
        rows.append(Row(f"{key}-a8", f"W4A8: {name} W ({method}, calibration packed to {length} tokens) x INT8 A",
                        key, "a8", extra="slac"))
    return {r.key: r for r in rows}


# The dINT4 codebooks besides the default (special="half", f=1), added by ``dint_variants``.
DINT_VARIANTS = {"-pm": (DintCodebook.PM_HALF, 1), "-q": (DintCodebook.HALF, 2),
                 "-pmq": (DintCodebook.PM_HALF, 2)}
ROWS = _rows()
EXTRAS = ("athena", "dint_variants", "exaq_fixed", "aqas", "slac", "dc")


def row_keys(extras=()):
    """Keys of the default rows plus those of the given extras (names in :data:`EXTRAS`), in table order."""
    extras = set(extras)
    unknown = extras - set(EXTRAS)
    if unknown:
        raise ParameterError(f"unknown extras {sorted(unknown)}: extras must be among {', '.join(EXTRAS)}")
    return [k for k, r in ROWS.items() if r.extra is None or r.extra in extras]

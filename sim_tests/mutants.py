"""The mutants of every unit and the checks that must kill them (sim_tests/mutation.py runs
them). Each unit's registry entry names its set (``mutants="lowbit.sim_tests.mutants:DINT_MAC"``);
the set may as well live beside the unit's testbench: only the reference changes.

A mutant is one textual edit of one hardware source file (the unit's own module or a shared
piece it uses): an operator flipped, a carry-in dropped, a shift or a width off by one, the
arms of a multiplexer swapped, a valid/ready condition inverted. ``find`` must occur exactly
once in the module's source. ``equivalent``, where set, says why the mutant cannot change what
the circuit computes (so its survival is no test gap).

The checks are pytest node ids under sim_tests/, cheapest first: the unit's default Icarus
case, and for the MACs a saturating case and for pot_dot a 5-lane case too, which reach the
modes (saturation, odd adder-tree levels) that the defaults do not; and a fused case (one
carry-save tree) of each unit that has the form, with an odd Booth weight width for int_mac.
"""

from dataclasses import dataclass

__all__ = ["Mutant", "MutantSet"]


@dataclass(frozen=True)
class Mutant:
    id: str
    module: str     # the mutated module, e.g. "lowbit.hdl.accumulator"
    kind: str       # operator, carry, shift, width, mux, handshake, constant
    find: str       # text that occurs exactly once in the module's source
    replace: str
    what: str
    equivalent: str | None = None   # why it cannot change the circuit's function, if it cannot


@dataclass(frozen=True)
class MutantSet:
    """A unit's mutants and the checks (pytest node ids under sim_tests/) run against each."""
    checks: tuple[str, ...]
    mutants: tuple[Mutant, ...]


def _m(id, module, kind, find, replace, what, equivalent=None):
    return Mutant(id, f"lowbit.hdl.{module}", kind, find, replace, what, equivalent)


DINT_MAC = MutantSet(
    checks=(
        'test_mac_sim.py::test_mac[dint_mac-defaults-icarus]',
        'test_mac_sim.py::test_mac[dint_mac-special=pm_half-frac_bits=2-acc_bits=14-'
        'overflow=saturate-pipeline=0-icarus]',
        'test_mac_sim.py::test_mac[dint_mac-special=pm_half-frac_bits=2-acc_bits=14-'
        'overflow=saturate-pipeline=0-fused=True-icarus]',
    ),
    mutants=(
        _m('acc-carry-in', 'accumulator', 'carry',
           'total.eq(base + addend + carry_in)',
           'total.eq(base + addend)',
           'drop the +1 carry-in that completes a negation'),
        _m('acc-valid', 'accumulator', 'handshake',
           'addend = Mux(valid, product ^',
           'addend = Mux(~valid, product ^',
           'add the product when valid is low'),
        _m('dint-partial-shift', 'dint_mac', 'shift',
           'Mux(magnitude[1], act << (f + 1), 0)',
           'Mux(magnitude[1], act << f, 0)',
           'second partial product shifted one place short'),
        _m('dint-special-arms', 'dint_mac', 'mux',
           'Mux(is_special, act, 0)',
           'Mux(is_special, 0, act)',
           'swap the arms of the special-code multiplexer'),
        _m('dint-zero-sign', 'dint_mac', 'operator',
           '(int(value < 0), abs(value), 0)',
           '(int(value <= 0), abs(value), 0)',
           'code 0 decoded as negative',
           equivalent='code 0 has magnitude 0; decoded as negative, the accumulator adds ~0 + '
                      '1 = 0 in its place (minus zero is zero), so every sum is the same'),
        # The fused form (hdl/mac.py): one carry-save tree with the accumulator
        _m('fusedmac-clear-arms', 'mac', 'mux',
           'base.eq(Mux(clear, 0, self.acc))',
           'base.eq(Mux(clear, self.acc, 0))',
           'fused: swap the arms of the clear multiplexer'),
        _m('fusedmac-sum-width', 'mac', 'width',
           'heap = BitHeap(self.acc_bits + 1)',
           'heap = BitHeap(self.acc_bits)',
           'fused: the resolved sum without the bit the overflow check reads'),
        _m('fusedmac-stages', 'mac', 'constant',
           'for stage in range(self.pipeline):',
           'for stage in range(self.pipeline + 1):',
           'fused: one input register stage too many (latency off by one)'),
    ),
)


INT_MAC = MutantSet(
    checks=(
        'test_mac_sim.py::test_mac[int_mac-defaults-icarus]',
        'test_mac_sim.py::test_mac[int_mac-acc_bits=17-overflow=saturate-pipeline=0-icarus]',
        'test_mac_sim.py::test_mac[int_mac-fused=True-icarus]',
        # an odd weight width: the top Booth digit reads the sign bit twice
        'test_fused.py::test_fused_mac_equals_the_golden_model[int_mac-weight_bits=3-act_bits=5-'
        'acc_bits=10-overflow=saturate]',
    ),
    mutants=(
        _m('acc-clear-arms', 'accumulator', 'mux',
           'base = Mux(clear, 0, self.acc)',
           'base = Mux(clear, self.acc, 0)',
           'swap the arms of the clear multiplexer'),
        _m('acc-overflow-test', 'accumulator', 'operator',
           'overflowed = total[-1] != total[-2]',
           'overflowed = total[-1] == total[-2]',
           'overflow detected when the top bits agree'),
        _m('acc-sum-width', 'accumulator', 'width',
           'total = Signal(signed(self.acc_bits + 1))',
           'total = Signal(signed(self.acc_bits))',
           'the pre-overflow sum one bit narrower'),
        _m('int-product-width', 'int_mac', 'width',
           'w_hi * a_lo), w_lo * a_lo)',
           'w_hi * a_lo), w_lo * a_lo - 1)',
           'product width from a largest product one too small'),
        _m('booth-odd-sign', 'int_mac', 'constant',
           'bits = [Const(0, 1), *weight, weight[-1]]',
           'bits = [Const(0, 1), *weight, Const(0, 1)]',
           'Booth: an odd-width weight not sign-extended for its top digit'),
        _m('booth-plus-one', 'int_mac', 'carry',
           'heap.add_bit(negative, shift + 2 * i)',
           'heap.add_bit(negative & 0, shift + 2 * i)',
           "Booth: drop the +1 of a negative digit's ones' complement"),
        _m('booth-digit-shift', 'int_mac', 'shift',
           'heap.add_signed(partial, shift + 2 * i)',
           'heap.add_signed(partial, shift + i)',
           'Booth: partial product i at weight 2^i instead of 4^i'),
    ),
)


POT_MAC = MutantSet(
    checks=(
        'test_pot_sim.py::test_pot_mac[pot_mac-defaults-icarus]',
        'test_pot_sim.py::test_pot_mac[pot_mac-bits=3-zero_code=False-acc_bits=14-'
        'overflow=saturate-pipeline=0-icarus]',
        'test_pot_sim.py::test_pot_mac[pot_mac-bits=3-zero_code=False-acc_bits=14-'
        'overflow=saturate-pipeline=0-fused=True-icarus]',
    ),
    mutants=(
        _m('acc-saturate-arms', 'accumulator', 'mux',
           'acc.eq(Mux(total[-1], lo, hi))',
           'acc.eq(Mux(total[-1], hi, lo))',
           'saturate to the wrong end'),
        _m('pot-shift', 'pot_code', 'shift',
           'shift.eq(~exponent)',
           'shift.eq(~exponent + 1)',
           'PoT shift amount off by one'),
        _m('potmac-zero-arms', 'pot_mac', 'mux',
           'Mux(is_zero, 0, self.act << shift)',
           'Mux(is_zero, self.act << shift, 0)',
           'swap the arms of the zero-code multiplexer'),
        _m('potmac-fused-plus-one', 'pot_mac', 'carry',
           'heap.add_bit(flip)   # -x = ~x + 1',
           'heap.add_bit(flip & 0)   # -x = ~x + 1',
           "fused: drop the +1 of a negative weight's ones' complement"),
        _m('potmac-fused-valid', 'pot_mac', 'handshake',
           'take.eq(enable & ~is_zero)',
           'take.eq(~is_zero)',
           'fused: accumulate the product when valid is low'),
        _m('potmac-fused-flip-guard', 'pot_mac', 'operator',
           'flip.eq(take & negative)',
           'flip.eq(negative)',
           'fused: flip the term of a zero code or an invalid cycle too',
           equivalent="an untaken term is 0; flipped it is ~0 = -1, and the flip's +1 bit in the "
                      'heap restores 0, so every sum is the same: the `take &` guard only spares '
                      'toggles'),
    ),
)


POT_DOT = MutantSet(
    checks=(
        'test_pot_sim.py::test_dot[pot_dot-defaults-icarus]',
        'test_pot_sim.py::test_dot[pot_dot-lanes=5-bits=3-zero_code=False-icarus]',
        'test_pot_sim.py::test_dot[pot_dot-fused=True-icarus]',
    ),
    mutants=(
        _m('pot-sign-bit', 'pot_code', 'operator',
           'negative.eq(code[-1])',
           'negative.eq(code[0])',
           'sign read from the wrong bit of the code'),
        _m('potdot-flip-guard', 'pot_dot', 'operator',
           'flip = negative & ~is_zero',
           'flip = negative',
           'negate zero-code lanes too',
           equivalent="a zero-code lane's magnitude is 0; flipped it is ~0 = -1, and its +1 in "
                      'the count tree restores 0, so every sum is the same: the `& ~is_zero` '
                      'guard in hdl/pot_dot.py is redundant logic'),
        _m('potdot-plus-ones', 'pot_dot', 'carry',
           'negated.append(flip)',
           'negated.append(flip & 0)',
           'drop the +1s of the lane negations'),
        _m('tree-odd-term', 'adder_tree', 'carry',
           'if k + 1 < len(level) else level[k]',
           'if k + 1 < len(level) else 0 * level[k]',
           'drop the odd term of a tree level'),
        _m('potdot-fused-plus-one', 'pot_dot', 'carry',
           'heap.add_bit(flip)   # -x = ~x + 1',
           'heap.add_bit(flip & 0)   # -x = ~x + 1',
           "fused: drop the +1s of the lane negations"),
    ),
)


INT_DOT = MutantSet(
    checks=(
        'test_pot_sim.py::test_dot[int_dot-defaults-icarus]',
        'test_pot_sim.py::test_dot[int_dot-lanes=5-weight_bits=3-act_bits=5-fused=True-icarus]',
        'test_pot_sim.py::test_dot[int_dot-lanes=5-weight_bits=7-act_bits=6-booth=True-icarus]',
    ),
    mutants=(
        _m('tree-subtract', 'adder_tree', 'operator',
           '[[level[k] + level[k + 1]',
           '[[level[k] - level[k + 1]',
           'subtract instead of add in the adder tree'),
        _m('dot-lane-slice', 'dot_product', 'width',
           'registered[k * self.lanes:(k + 1) * self.lanes]',
           'registered[k * self.lanes + 1:(k + 1) * self.lanes]',
           'lose lane 0 after the first register'),
        _m('pipe-enable-valid', 'stream_pipeline', 'handshake',
           'self.enable.eq(~o.valid | o.ready)',
           'self.enable.eq(o.valid | o.ready)',
           'pipeline moves while its output waits (valid condition inverted)'),
        _m('dot-fused-lane0', 'dot_product', 'width',
           'self.add_lane_product(m, heap, weights[k], acts[k])',
           'self.add_lane_product(m, heap, weights[k], acts[k]) if k else None',
           "fused: lane 0's partial products left out of the beat's heap"),
        _m('dot-fused-adder', 'dot_product', 'operator',
           'total.eq(rows[0] + rows[1])',
           'total.eq(rows[0] | rows[1])',
           "fused: the carry-save rows ORed instead of added"),
    ),
)


DINT_DOT = MutantSet(
    checks=(
        'test_dint_dot.py::test_dint_dot[dint_dot-defaults-icarus]',
        'test_dint_dot.py::test_dint_dot[dint_dot-lanes=5-special=pm_half-frac_bits=2-icarus]',
        'test_dint_dot.py::test_dint_dot[dint_dot-lanes=6-special=pm_half-frac_bits=2-act_bits=5-'
        'fused=True-icarus]',
    ),
    mutants=(
        # The lane: two radix-4 Booth digits read off the dINT code (hdl/dint_mac.py)
        _m('dint-digit-one', 'dint_mac', 'operator',
           'one.eq(digit_on & (mid ^ low))',
           'one.eq(digit_on & (mid | low))',
           'Booth digit +-1 selected on an or instead of an exclusive or'),
        _m('dint-digit-two-arms', 'dint_mac', 'mux',
           'two.eq(digit_on & Mux(high, ~mid & ~low, mid & low))',
           'two.eq(digit_on & Mux(high, mid & low, ~mid & ~low))',
           'swap the arms of the Booth digit +-2 select'),
        _m('dint-digits-on-special', 'dint_mac', 'operator',
           'digit_on.eq(on & ~is_special)',
           'digit_on.eq(on)',
           "the special code's bit pattern also read as Booth digits"),
        _m('dint-special-shift', 'dint_mac', 'shift',
           'Mux(take_special, act, Mux(one0',
           'Mux(take_special, act << 1, Mux(one0',
           'the special magnitude 2^-f taken as 2^(1-f)'),
        _m('dint-high-shift', 'dint_mac', 'shift',
           'heap.add_signed(high, shift + f + 2)',
           'heap.add_signed(high, shift + f + 1)',
           'the high Booth partial product one place short'),
        _m('dint-low-plus-one', 'dint_mac', 'carry',
           'heap.add_bit(low_negative, shift)',
           'heap.add_bit(low_negative & 0, shift)',
           "drop the +1 of the low partial product's ones' complement"),
        _m('dint-special-sign', 'dint_mac', 'operator',
           'low_negative.eq(neg0 | (take_special & special_negative))',
           'low_negative.eq(neg0)',
           "pm_half's -2^-f code taken as +2^-f"),
        # The carry-save tree (hdl/adder_tree.py BitHeap): every lane's, and the fused forms'
        _m('heap-sign-bit', 'adder_tree', 'operator',
           'self.add_bit(~value[n - 1], shift + n - 1)',
           'self.add_bit(value[n - 1], shift + n - 1)',
           "a signed term's sign bit added uninverted"),
        _m('heap-sign-constant', 'adder_tree', 'constant',
           'self._constant -= 1 << (shift + n - 1)',
           'self._constant += 1 << (shift + n - 1)',
           "a signed term's -2^(n-1) correction added with the wrong sign"),
        _m('heap-carry-in', 'adder_tree', 'carry',
           'addends if carry_in is None else addends + carry_in',
           'addends',
           "drop column 0's spare bit, the final adder's carry-in"),
        _m('heap-full-carry', 'adder_tree', 'operator',
           'return a ^ b ^ c, (a & b) | (a & c) | (b & c)',
           'return a ^ b ^ c, (a & b) | (a & c)',
           "a full adder's carry misses one pair"),
        _m('heap-half-carry', 'adder_tree', 'operator',
           'return a ^ b, a & b',
           'return a ^ b, a | b',
           "a half adder's carry on an or"),
        _m('heap-constant-sum', 'adder_tree', 'operator',
           'return ~(b ^ c), b | c',
           'return b ^ c, b | c',
           'a full adder with a constant 1 input: sum not inverted'),
        _m('heap-dadda-bound', 'adder_tree', 'constant',
           'while heights[-1] * 3 // 2 < tallest:',
           'while heights[-1] * 3 // 2 <= tallest:',
           "one more Dadda target, equal to the tallest column",
           equivalent='the extra target equals the tallest column, so its stage places no adder '
                      '(a column is reduced only while taller than the target): the same circuit (the '
                      'generated Verilog of dint_dot, the fused MACs and the fused dot products '
                      'is byte-identical)'),
        _m('dot-lane-width', 'dot_product', 'width',
           'heap = BitHeap(self.product_bits)',
           'heap = BitHeap(self.product_bits - 1)',
           "each lane's product resolved one bit too narrow"),
    ),
)


POT_DEQUANT = MutantSet(
    checks=(
        'test_pot_sim.py::test_dequant[pot_dequant-defaults-icarus]',
    ),
    mutants=(
        _m('pot-zero-index', 'pot_code', 'constant',
           'exponent == self.largest_exponent if',
           'exponent == self.largest_exponent - 1 if',
           'zero code one exponent index too low'),
        _m('rne-ties', 'fp16', 'operator',
           'tie_or_above = named(m, "rne_tie_breaker", sticky | kept[0])',
           'tie_or_above = named(m, "rne_tie_breaker", sticky & kept[0])',
           'round to nearest even: or flipped to and'),
        _m('potdq-normal-bound', 'pot_dequant', 'constant',
           'named(m, "above_one", reduced >= 1)',
           'named(m, "above_one", reduced >= 0)',
           'exponent 0 taken as normal'),
        _m('potdq-subnormal-shift', 'pot_dequant', 'shift',
           'named(m, "exponent_less_one", s.exponent - 1)',
           'named(m, "exponent_less_one", s.exponent)',
           'subnormal shift off by one'),
        _m('potdq-zero-sign', 'pot_dequant', 'operator',
           'zero = Cat(C(0, 15), s.sign)',
           'zero = Cat(C(0, 15), sign)',
           "zero code: the code's sign applied to the zero"),
    ),
)


INT4_DEQUANT = MutantSet(
    checks=(
        'test_pot_sim.py::test_dequant[int4_dequant-defaults-icarus]',
    ),
    mutants=(
        _m('pipe-enable-and', 'stream_pipeline', 'operator',
           'self.enable.eq(~o.valid | o.ready)',
           'self.enable.eq(~o.valid & o.ready)',
           'pipeline enable: or flipped to and'),
        _m('rne-sticky', 'fp16', 'width',
           'named(m, "rne_sticky", below_guard != 0)',
           'named(m, "rne_sticky", below_guard[2:] != 0)',
           'sticky bit misses the lowest bit'),
        _m('int4-magnitude-arms', 'int4_dequant', 'mux',
           'Mux(negative, negated, code)',
           'Mux(negative, code, negated)',
           'swap the arms of the magnitude multiplexer'),
        _m('int4-norm-shift', 'int4_dequant', 'shift',
           'Mux(too_long, excess, 0)',
           'Mux(too_long, excess, 1)',
           'normalisation shift 1 instead of 0 for short products'),
        _m('int4-inf-times-zero', 'int4_dequant', 'constant',
           'named(m, "code_is_zero", magnitude == 0)',
           'named(m, "code_is_zero", magnitude == 1)',
           'NaN for inf x 1 (and inf for inf x 0)'),
    ),
)


INT_ARRAY = MutantSet(
    checks=(
        'test_matrix_sim.py::test_matrix[int_array-defaults-icarus]',
    ),
    mutants=(
        _m('intarr-clear', 'int_array', 'handshake',
           'mac.clear.eq(taken & job_start)',
           'mac.clear.eq(job_start)',
           'clear the accumulators without a beat'),
        _m('intarr-ready', 'int_array', 'handshake',
           'self.i.ready.eq(~pending)',
           'self.i.ready.eq(1)',
           'take beats while a result waits'),
        _m('intarr-done-delay', 'int_array', 'constant',
           'for stage in range(self.latency - 1):',
           'for stage in range(self.latency):',
           'result valid one cycle late'),
        _m('intarr-taken', 'int_array', 'handshake',
           'with m.If(self.o.valid & self.o.ready):',
           'with m.If(self.o.ready):',
           'result retired without a handshake'),
    ),
)


EXAQ_SOFTMAX = MutantSet(
    checks=(
        'test_softmax_sim.py::test_cycle_formulas',
        'test_softmax_sim.py::test_softmax[exaq_softmax-defaults-icarus]',
        'test_softmax_sim.py::test_softmax[exaq_softmax-bits=2-epc=4-top=zero-max_len=61-icarus]',
    ),
    mutants=(
        _m('exaq-threshold', 'exaq_softmax', 'operator',
           '"lane{lane}_above{k}", scaled >= t)',
           '"lane{lane}_above{k}", scaled > t)',
           'a distance exactly on a code boundary rounds down'),
        _m('exaq-count-arms', 'exaq_softmax', 'mux',
           'n.eq(Mux(self.first, 0, n)',
           'n.eq(Mux(self.first, n, 0)',
           'swap the arms of the counter restart multiplexer'),
        _m('exaq-lane-valid', 'exaq_softmax', 'handshake',
           'hits = [self.valid[lane] & (codes[lane] == k)',
           'hits = [(codes[lane] == k)',
           'count lanes past the end of the row'),
        _m('recip-bit', 'softmax_row', 'operator',
           'bit = difference >= 0',
           'bit = difference > 0',
           'reciprocal quotient bit on a strict comparison'),
        _m('row-in-flight', 'softmax_row', 'handshake',
           '(c_out & ~c_issuing & ~in_flight)',
           '(c_out & ~c_issuing)',
           'stage C takes the next row while beats still read its state'),
    ),
)


SOFTMAX_FIXED = MutantSet(
    checks=(
        'test_softmax_sim.py::test_rom_is_the_golden_table',
        'test_softmax_sim.py::test_cycle_formulas',
        'test_softmax_sim.py::test_softmax[softmax_fixed-defaults-icarus]',
        'test_softmax_sim.py::test_softmax[softmax_fixed-in_bits=16-in_frac=15-lut_frac=16-'
        'out_frac=16-max_len=37-epc=8-exp_index_frac=0-icarus]',
    ),
    mutants=(
        _m('max-fold', 'softmax_row', 'operator',
           '(held > running), held, running)',
           '(held < running), held, running)',
           'running minimum instead of maximum'),
        _m('norm-rounding', 'softmax_row', 'carry',
           ' + low_product + (1 << (self.shift - 1))',
           ' + low_product',
           'drop the rounding constant of the normaliser'),
        _m('row-take-c', 'softmax_row', 'handshake',
           'reciprocal.done & c_free)',
           'reciprocal.done)',
           'stage B hands a row to a busy stage C'),
        _m('lane-count', 'softmax_row', 'constant',
           'else count > lane',
           'else count >= lane',
           'one lane past count taken as valid'),
        _m('exp-table-rounding', 'softmax_fixed', 'constant',
           'np.exp(-j / 2.0 ** exp_index_frac) + 0.5)',
           'np.exp(-j / 2.0 ** exp_index_frac))',
           'exponential table truncated instead of rounded'),
        _m('expsum-first-arms', 'softmax_fixed', 'mux',
           'Mux(beat_first, 0, total) + beat_sum',
           'Mux(beat_first, total, 0) + beat_sum',
           'swap the arms of the sum restart multiplexer'),
    ),
)


ATTENTION_BLOCK = MutantSet(
    checks=('test_block_sim.py::test_block[attention_block-defaults-verilator]',
            'test_block_sim.py::test_block[attention_block-engine=dint-softmax=exaq3-lanes=16-'
            'verilator]'),
    mutants=(
        _m('logits-as-int8', 'attention_block', 'mux',
           'Mux(is_s | ((wide >= lo8) & (wide <= hi8)), wide,',
           'Mux(((wide >= lo8) & (wide <= hi8)), wide,',
           'the logits saturate to INT8 like the activations (the default run has logits '
           'up to 185)'),
        _m('bias-dropped', 'attention_block', 'constant',
           'base = Mux(tag_e.first, tag_e.bias, acc)',
           'base = Mux(tag_e.first, 0, acc)',
           'the projections start their sums from 0, not the bias'),
        _m('bank-never-released', 'attention_block', 'handshake',
           'row_full.eq((row_full | set_row) & ~release)',
           'row_full.eq(row_full | set_row)',
           'a weight row bank is never freed: the loader stalls for ever'),
        _m('softmax-row-end', 'attention_block', 'constant',
           'row_last.eq(col == tokens - 1)',
           'row_last.eq(col == tokens - 2)',
           'the score rows reach the softmax one element short'),
        _m('score-rows-unpaced', 'attention_block', 'handshake',
           '~(score_row_start & (pace != 0))),',
           '~(score_row_start & (pace != 0) & 0)),',
           'short score rows issue as fast as the engine goes: they queue in the score FIFO '
           'and the layer\'s cycles leave the formula (dint-exaq3 at 16 lanes)'),
    ),
)

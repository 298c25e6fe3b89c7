"""Code that numba's loops cannot express, written as LLVM IR (numba ``intrinsic``s),
each with a plain-Python twin that defines what it computes and runs under
``NUMBA_DISABLE_JIT=1``: path-order sums eight at a time, and a float's bits.

No fastmath here either: each intrinsic does the same IEEE additions and
multiplications, in the same order, as its Python twin, so the bits are the same.
"""

from __future__ import annotations

from .._jit import jit  # noqa: F401  (sets the cache directory before numba is imported)


def add_tile8(sums, s, values, e0, g0):
    """Add an 8 x 8 tile of ``values`` to running sums and sums of squares, each sum
    taking its 8 values one at a time in order:

        for e in e0 .. e0 + 7, for g in g0 .. g0 + 7 (in order):
            sums[0, s, e] += values[0, e, g]
            sums[1, s, e] += values[0, e, g] * values[0, e, g]

    ``sums`` float64[2, S, E] and ``values`` float64[1, E, G], both C-contiguous; the
    caller keeps e0 + 8 <= E and g0 + 8 <= G (nothing is checked when compiled).
    Compiled, the tile's 8 rows are loaded as vectors, transposed in registers, and the 8
    sums advance together, one vector addition per ``g``: the same additions in the
    same order as the loop above, so the same bits, where the loop itself is 8 chains
    of dependent scalar additions that LLVM may not reorder.
    """
    for e in range(e0, e0 + 8):
        for g in range(g0, g0 + 8):
            v = values[0, e, g]
            sums[0, s, e] += v
            sums[1, s, e] += v * v


def _register_add_tile8():
    from llvmlite import ir
    from numba.core import cgutils, types
    from numba.extending import intrinsic, overload

    f64x8 = ir.VectorType(ir.DoubleType(), 8)

    @intrinsic
    def _add_tile8(typingctx, sums, s, values, e0, g0):
        arrays_ok = all(
            isinstance(a, types.Array)
            and a.dtype == types.float64
            and a.ndim == 3
            and a.layout == "C"
            for a in (sums, values)
        )
        if not arrays_ok or not all(isinstance(i, types.Integer) for i in (s, e0, g0)):
            return None

        def codegen(context, builder, signature, args):
            sums_t, _, values_t, _, _ = signature.args
            a_sums = context.make_array(sums_t)(context, builder, args[0])
            a_vals = context.make_array(values_t)(context, builder, args[2])
            s_, e0_, g0_ = (
                context.cast(builder, args[i], signature.args[i], types.intp) for i in (1, 3, 4)
            )
            intp = context.get_value_type(types.intp)

            def ptr(ary, aty, idx):
                p = cgutils.get_item_pointer2(
                    context,
                    builder,
                    data=ary.data,
                    shape=cgutils.unpack_tuple(builder, ary.shape),
                    strides=cgutils.unpack_tuple(builder, ary.strides),
                    layout=aty.layout,
                    inds=idx,
                    wraparound=False,
                )
                return builder.bitcast(p, f64x8.as_pointer())

            zero = ir.Constant(intp, 0)
            rows = [
                builder.load(
                    ptr(a_vals, values_t, [zero, builder.add(e0_, ir.Constant(intp, i)), g0_]),
                    align=8,
                )
                for i in range(8)
            ]
            p_sum = ptr(a_sums, sums_t, [zero, s_, e0_])
            p_sq = ptr(a_sums, sums_t, [ir.Constant(intp, 1), s_, e0_])
            total = builder.load(p_sum, align=8)
            squares = builder.load(p_sq, align=8)
            # transpose: three rounds of two-vector shuffles, after which rows[g][i] is
            # the value of row e0 + i at column g0 + g
            i32 = ir.IntType(32)
            for b in (1, 2, 4):
                for i in range(8):
                    if not i & b:
                        lo = [j if not j & b else 8 + j - b for j in range(8)]
                        hi = [j + b if not j & b else 8 + j for j in range(8)]
                        a, c = rows[i], rows[i | b]
                        rows[i] = builder.shuffle_vector(
                            a, c, ir.Constant(ir.VectorType(i32, 8), lo)
                        )
                        rows[i | b] = builder.shuffle_vector(
                            a, c, ir.Constant(ir.VectorType(i32, 8), hi)
                        )
            for g in range(8):  # in path order
                total = builder.fadd(total, rows[g])
                squares = builder.fadd(squares, builder.fmul(rows[g], rows[g]))
            builder.store(total, p_sum, align=8)
            builder.store(squares, p_sq, align=8)
            return context.get_dummy_value()

        return types.void(sums, s, values, e0, g0), codegen

    @overload(add_tile8, jit_options=dict(cache=True))
    def _add_tile8_impl(sums, s, values, e0, g0):
        return lambda sums, s, values, e0, g0: _add_tile8(sums, s, values, e0, g0)


_register_add_tile8()


def float_bits(x):
    """The IEEE-754 bits of float64 ``x`` as an int64 (a free bit cast when compiled)."""
    import struct

    return struct.unpack("<q", struct.pack("<d", x))[0]


def _register_float_bits():
    from llvmlite import ir
    from numba.core import types
    from numba.extending import intrinsic, overload

    @intrinsic
    def _bitcast(typingctx, x):
        if x != types.float64:
            return None

        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir.IntType(64))

        return types.int64(types.float64), codegen

    @overload(float_bits, jit_options=dict(cache=True))
    def _float_bits(x):
        return lambda x: _bitcast(x)


_register_float_bits()

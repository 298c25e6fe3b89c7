"""Code that numba's loops cannot express, written as LLVM IR (numba ``intrinsic``s),
each with a plain-Python twin that defines what it computes and runs under
``NUMBA_DISABLE_JIT=1``: path-order sums eight at a time, and a float's bits.

No fastmath here either: each intrinsic does the same IEEE additions, subtractions and
multiplications, in the same order, as its Python twin, so the bits are the same.
"""

from __future__ import annotations

from .._jit import jit  # noqa: F401  (sets the cache directory before numba is imported)


def add_tile8(sums, s, f0, values, v, e0, g0):
    """Add an 8 x 8 tile of ``values`` to running sums and sums of squares, each sum
    taking its 8 values one at a time in path order:

        for i in 0 .. 7, for g in g0 .. g0 + 7 (in order):
            x = values[v, e0 + i, g]
            sums[0, s, f0 + i] += x
            sums[1, s, f0 + i] += x * x

    ``sums`` float64[2, S, F] and ``values`` float64[V, E, G], both C-contiguous; the
    caller keeps f0 + 8 <= F, e0 + 8 <= E and g0 + 8 <= G (nothing is checked when
    compiled). Compiled, the tile's 8 rows are loaded as vectors, transposed in
    registers, and the 8 sums advance together, one vector addition per ``g``: the same
    operations in the same order as the loop above, so the same bits, where the loop
    itself is 8 chains of dependent scalar additions that LLVM may not reorder.
    """
    for i in range(8):
        for g in range(g0, g0 + 8):
            x = values[v, e0 + i, g]
            sums[0, s, f0 + i] += x
            sums[1, s, f0 + i] += x * x


def add_tile8_diff(sums, s, f0, values, v, b, e0, g0):
    """:func:`add_tile8` of the paired differences ``values[v] - values[b]``:

        x = values[v, e0 + i, g] - values[b, e0 + i, g]

    (the same path in two scenarios), added as above."""
    for i in range(8):
        for g in range(g0, g0 + 8):
            x = values[v, e0 + i, g] - values[b, e0 + i, g]
            sums[0, s, f0 + i] += x
            sums[1, s, f0 + i] += x * x


def _transpose8(builder, rows):
    """Three rounds of two-vector shuffles, after which rows[g][i] is what rows[i][g]
    was."""
    from llvmlite import ir

    i32 = ir.IntType(32)
    rows = list(rows)
    for b in (1, 2, 4):
        for i in range(8):
            if not i & b:
                lo = [j if not j & b else 8 + j - b for j in range(8)]
                hi = [j + b if not j & b else 8 + j for j in range(8)]
                a, c = rows[i], rows[i | b]
                rows[i] = builder.shuffle_vector(a, c, ir.Constant(ir.VectorType(i32, 8), lo))
                rows[i | b] = builder.shuffle_vector(a, c, ir.Constant(ir.VectorType(i32, 8), hi))
    return rows


def _tile_codegen(paired: bool):
    """The code of :func:`add_tile8` (``paired``: of :func:`add_tile8_diff`)."""
    from llvmlite import ir
    from numba.core import cgutils, types

    f64x8 = ir.VectorType(ir.DoubleType(), 8)

    def codegen(context, builder, signature, args):
        sums_t, values_t = signature.args[0], signature.args[3]
        a_sums = context.make_array(sums_t)(context, builder, args[0])
        a_vals = context.make_array(values_t)(context, builder, args[3])

        def index(i):
            return context.cast(builder, args[i], signature.args[i], types.intp)

        intp = context.get_value_type(types.intp)
        s_, f0_, v_ = index(1), index(2), index(4)
        e0_, g0_ = index(len(args) - 2), index(len(args) - 1)

        def ptr(ary, aty, inds):
            p = cgutils.get_item_pointer2(
                context,
                builder,
                data=ary.data,
                shape=cgutils.unpack_tuple(builder, ary.shape),
                strides=cgutils.unpack_tuple(builder, ary.strides),
                layout=aty.layout,
                inds=inds,
                wraparound=False,
            )
            return builder.bitcast(p, f64x8.as_pointer())

        def load_rows(slot):
            return [
                builder.load(
                    ptr(a_vals, values_t, [slot, builder.add(e0_, ir.Constant(intp, i)), g0_]),
                    align=8,
                )
                for i in range(8)
            ]

        rows = load_rows(v_)
        if paired:
            rows = [builder.fsub(r, q) for r, q in zip(rows, load_rows(index(5)))]
        rows = _transpose8(builder, rows)
        p_sum = ptr(a_sums, sums_t, [ir.Constant(intp, 0), s_, f0_])
        p_sq = ptr(a_sums, sums_t, [ir.Constant(intp, 1), s_, f0_])
        total = builder.load(p_sum, align=8)
        squares = builder.load(p_sq, align=8)
        for g in range(8):  # in path order
            total = builder.fadd(total, rows[g])
            squares = builder.fadd(squares, builder.fmul(rows[g], rows[g]))
        builder.store(total, p_sum, align=8)
        builder.store(squares, p_sq, align=8)
        return context.get_dummy_value()

    return codegen


def _tile_types_ok(types, sums, values, ints) -> bool:
    arrays_ok = all(
        isinstance(a, types.Array) and a.dtype == types.float64 and a.ndim == 3 and a.layout == "C"
        for a in (sums, values)
    )
    return arrays_ok and all(isinstance(i, types.Integer) for i in ints)


def _register_add_tiles():
    from numba.core import types
    from numba.extending import intrinsic, overload

    @intrinsic
    def _add_tile8(typingctx, sums, s, f0, values, v, e0, g0):
        if not _tile_types_ok(types, sums, values, (s, f0, v, e0, g0)):
            return None
        return types.void(sums, s, f0, values, v, e0, g0), _tile_codegen(paired=False)

    @intrinsic
    def _add_tile8_diff(typingctx, sums, s, f0, values, v, b, e0, g0):
        if not _tile_types_ok(types, sums, values, (s, f0, v, b, e0, g0)):
            return None
        return types.void(sums, s, f0, values, v, b, e0, g0), _tile_codegen(paired=True)

    @overload(add_tile8, jit_options=dict(cache=True))
    def _add_tile8_impl(sums, s, f0, values, v, e0, g0):
        return lambda sums, s, f0, values, v, e0, g0: _add_tile8(sums, s, f0, values, v, e0, g0)

    @overload(add_tile8_diff, jit_options=dict(cache=True))
    def _add_tile8_diff_impl(sums, s, f0, values, v, b, e0, g0):
        return lambda sums, s, f0, values, v, b, e0, g0: _add_tile8_diff(
            sums, s, f0, values, v, b, e0, g0
        )


_register_add_tiles()


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

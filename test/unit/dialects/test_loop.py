"""The loop dialect's Python side: enum operands shared with accel, tile types."""

from io import StringIO

import pytest
from tidal.dialects.accel import Accel, AccessAttr
from tidal.dialects.accel import ActOp as AccelActOp
from tidal.dialects.chip_enums import ActFunc, ActFuncAttr, AluOp, Space, SpaceAttr
from tidal.dialects.chip_enums import ReduceOp as ReduceKind
from tidal.dialects.loop import (
    ActOp,
    AllocTileOp,
    ForOp,
    Loop,
    NestOp,
    ReduceOp,
    TensorTensorOp,
    TileOp,
    TileType,
)
from tidal.sim.spec import INSTRUCTIONS
from xdsl.context import Context
from xdsl.dialects.builtin import Builtin, ModuleOp
from xdsl.dialects.func import Func, FuncOp, ReturnOp
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import ParseError, VerifyException

AP = AccessAttr.get("sbuf", 0, 0, [(1, 16), (1, 8)])
COL = AccessAttr.get("sbuf", 0, 0, [(1, 16), (1, 1)])


def _ctx() -> Context:
    ctx = Context()
    for dialect in (Builtin, Func, Accel, Loop):
        ctx.load_dialect(dialect)
    return ctx


def _nest(*ops_of_tile) -> ModuleOp:  # pyright: ignore[reportMissingParameterType]
    """A function holding one nest with a 16x8 sbuf tile and a 16x1 column, and a
    loop of the ops built on them."""
    tile = AllocTileOp("sbuf", 16, 8)
    col = AllocTileOp("sbuf", 16, 1)
    ops = [make(tile.result, col.result) for make in ops_of_tile]
    fn = FuncOp("f", ((), ()))
    fn.body.block.add_ops(
        [NestOp("n", [1], [0], [tile, col, ForOp(0, ops)]), ReturnOp()]
    )
    return ModuleOp([fn])


def _text(module: ModuleOp) -> str:
    out = StringIO()
    Printer(stream=out).print_op(module)
    return out.getvalue()


def test_tile_space_is_the_datasheet_enum():
    t = TileType("psum", 128, 512)
    assert t.space == SpaceAttr(Space.PSUM) and t.space.data == "psum"
    assert t == TileType(Space.PSUM, 128, 512)
    with pytest.raises(ValueError, match="'hbm' is not a valid Space"):
        TileType("hbm", 1, 1)


def test_loop_and_accel_share_one_attribute_per_concept():
    """loop-to-accel hands the loop op's enum member to the accel op unchanged."""
    module = _nest(lambda t, c: ActOp("relu", t, AP, t, AP))
    act = next(op for op in module.walk() if isinstance(op, ActOp))
    assert isinstance(act.func, ActFuncAttr) and act.func.data is ActFunc.RELU
    assert AccelActOp(act.func.data, AP, AP).func == act.func
    assert (
        TensorTensorOp(AluOp.MIN, act.dst, AP, act.dst, AP, act.dst, AP).op.data
        == "min"
    )
    assert ReduceOp("max", act.dst, COL, act.dst, AP, 1).op.data is ReduceKind.MAX
    with pytest.raises(ValueError, match="'softsign' is not a valid ActFunc"):
        ActOp("softsign", act.dst, AP, act.dst, AP)


@pytest.mark.parametrize("func", list(ActFunc))
def test_every_activation_prints_quoted_and_parses(func: ActFunc):
    module = _nest(lambda t, c: ActOp(func, t, AP, t, AP, bias_col=(c, COL)))
    module.verify()
    text = _text(module)
    assert f'loop.act "{func.value}" %' in text
    again = Parser(_ctx(), text).parse_module()
    assert _text(again) == text
    bare = Parser(_ctx(), text.replace(f'"{func.value}"', func.value)).parse_module()
    assert _text(bare) == text


def test_enum_operands_print_quoted():
    module = _nest(
        lambda t, c: TensorTensorOp("sub", t, AP, t, AP, t, AP),
        lambda t, c: ReduceOp("add", c, COL, t, AP, 1, scale=0.5),
    )
    module.verify()
    text = _text(module)
    assert 'loop.tensor_tensor "sub" %' in text and 'loop.reduce "add" %' in text
    assert Parser(_ctx(), text).parse_module().is_structurally_equivalent(module)


def test_unknown_enum_names_are_parse_errors():
    text = _text(_nest(lambda t, c: TensorTensorOp("add", t, AP, t, AP, t, AP)))
    with pytest.raises(
        ParseError, match=r"unknown tensor_tensor op 'div' \(add, sub, mul, max, min\)"
    ):
        Parser(_ctx(), text.replace('"add"', '"div"')).parse_module()
    with pytest.raises(ParseError, match="unknown memory space 'hbm'"):
        Parser(
            _ctx(), text.replace("!loop.tile<sbuf, 16, 1>", "!loop.tile<hbm, 16, 1>")
        ).parse_module()


def test_every_tile_op_names_its_instruction():
    """A tile op's OPCODE is the accel instruction loop-to-accel makes of it."""
    tile_ops = [op for op in Loop.operations if issubclass(op, TileOp)]
    assert {INSTRUCTIONS[op.OPCODE].mnemonic for op in tile_ops} == {
        "accel.dma",
        "accel.matmul",
        "accel.act",
        "accel.tensor_tensor",
        "accel.reduce",
        "accel.memset",
        "accel.random",
        "accel.dropout",
        "accel.bernoulli",
    }
    for op in tile_ops:
        if op.name != "loop.copy":
            assert INSTRUCTIONS[op.OPCODE].mnemonic == op.name.replace(
                "loop.", "accel."
            )


def test_a_nest_lists_its_sibling_loops_as_paths():
    """Sibling loops start paths of their own; `loop_chain` is for single chains."""
    tile = AllocTileOp("sbuf", 16, 8)
    first, second = ForOp(1, []), ForOp(1, [])
    outer = ForOp(0, [first, second])
    nest = NestOp("n", [2, 3], [0, 1], [tile, outer])
    fn = FuncOp("f", ((), ()))
    fn.body.block.add_ops([nest, ReturnOp()])
    ModuleOp([fn]).verify()
    assert nest.loop_paths() == [[outer, first], [outer, second]]
    with pytest.raises(ValueError, match="'n' holds 2 loop paths, not one chain"):
        nest.loop_chain()
    second.detach()
    assert nest.loop_chain() == [outer, first]


def test_a_tile_in_the_function_is_used_by_two_nests():
    keep = AllocTileOp("sbuf", 16, 8)
    t = keep.result
    fn = FuncOp("f", ((), ()))
    fn.body.block.add_ops(
        [
            keep,
            NestOp("a", [], [], [TensorTensorOp("add", t, AP, t, AP, t, AP)]),
            NestOp("b", [], [], [ActOp("exp", t, AP, t, AP)]),
            ReturnOp(),
        ]
    )
    ModuleOp([fn]).verify()
    stray = ModuleOp([AllocTileOp("sbuf", 16, 8)])
    with pytest.raises(
        VerifyException,
        match="loop.alloc_tile must be inside a loop.nest or directly in a func.func",
    ):
        stray.verify()


def test_const_to_numpy_fills_out_a_splat():
    """loop.const's value as an array of its buffer's shape: the bytes of a dense
    value, and a splat (as parsed from `dense<0.5>`) filled out."""
    import numpy as np
    from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, Float32Type, TensorType

    from tidal.dialects.loop import ConstOp as LoopConst, dense_f32

    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(LoopConst(dense_f32(w)).to_numpy(), w)
    splat = DenseIntOrFPElementsAttr.from_list(TensorType(Float32Type(), [2, 3]), [0.5])
    np.testing.assert_array_equal(LoopConst(splat).to_numpy(), np.full((2, 3), 0.5, np.float32))

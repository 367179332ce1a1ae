"""The accel dialect's Python side: Aff arithmetic and text, AccessAttr helpers, op API."""

from io import StringIO

import pytest
from tidal.dialects.accel import (
    Accel,
    AccessAttr,
    ActOp,
    Aff,
    AffAttr,
    DmaOp,
    HaltOp,
    InstructionOp,
    MatmulOp,
    MemsetOp,
    NopOp,
    ProgramOp,
    ReduceOp,
    RepeatOp,
    SignalOp,
    StreamOp,
    TensorTensorOp,
    WaitOp,
    repeat_depth,
)
from tidal.dialects.chip_enums import (
    ActFunc,
    ActFuncAttr,
    AluOp,
    EngineAttr,
    Space,
    SpaceAttr,
    engine_sort_key,
)
from tidal.dialects.chip_enums import ReduceOp as ReduceKind
from tidal.sim.spec import INSTRUCTIONS
from xdsl.context import Context
from xdsl.dialects.builtin import Builtin, ModuleOp
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import ParseError, VerifyException


def _ctx() -> Context:
    ctx = Context()
    ctx.load_dialect(Builtin)
    ctx.load_dialect(Accel)
    return ctx


def _text(obj: object) -> str:
    out = StringIO()
    printer = Printer(stream=out)
    if isinstance(obj, ModuleOp):
        printer.print_op(obj)
    else:
        printer.print_attribute(obj)  # pyright: ignore[reportArgumentType]
    return out.getvalue()


# --- Aff -------------------------------------------------------------------


def test_aff_normalises_trailing_zero_steps():
    assert Aff(3, (2, 0, 0)) == Aff(3, (2,))
    assert hash(Aff(3, (2, 0))) == hash(Aff(3, (2,)))
    assert Aff(5, (0, 0)).steps == ()
    assert Aff(5, (0, 0)).is_const
    assert not Aff(5, (0, 1)).is_const


def test_aff_arithmetic():
    a = Aff(1, (2,))
    b = Aff(10, (0, 3))
    assert a + b == Aff(11, (2, 3))
    assert a + 4 == Aff(5, (2,))
    assert 4 + a == Aff(5, (2,))
    assert a.scaled(3) == Aff(3, (6,))
    assert (a + b).at([2, 5]) == 11 + 4 + 15
    assert a.at([]) == 1  # missing indices are 0
    assert Aff.of(7) == Aff(7)
    assert Aff.of(a) is a
    assert (a + Aff(0, (-2,))).is_const


def test_aff_text():
    assert str(Aff(3)) == "3"
    assert str(Aff(3, (2,))) == "3 + 2 * i0"
    assert str(Aff(1024, (512, 0, -8))) == "1024 + 512 * i0 + -8 * i2"
    assert str(Aff(0, (1,))) == "0 + 1 * i0"


@pytest.mark.parametrize(
    "text, aff",
    [
        ("3", Aff(3)),
        ("3 + 2 * i0", Aff(3, (2,))),
        ("1024 + 512 * i0 + -8 * i2", Aff(1024, (512, 0, -8))),
        ("i1 + 4 + -1 * i1 + 2 * i0", Aff(4, (2,))),
        ("-5", Aff(-5)),
    ],
)
def test_aff_attr_parses(text: str, aff: Aff):
    attr = Parser(_ctx(), f"#accel.aff<{text}>").parse_attribute()
    assert isinstance(attr, AffAttr)
    assert attr.data == aff
    assert _text(attr) == f"#accel.aff<{aff}>"


# --- AccessAttr --------------------------------------------------------------


def test_access_helpers():
    ap = AccessAttr.get("sbuf", 4, Aff(1024, (512,)), [(1, 16), (8, 4), (1, 8)])
    assert ap.space == "sbuf"
    assert ap.pstart == Aff(4)
    assert ap.offset == Aff(1024, (512,))
    assert ap.dims == ((1, 16), (8, 4), (1, 8))
    assert ap.pcount == 16
    assert ap.free_counts == (4, 8)
    assert ap.free_elements == 32
    assert ap.num_elements == 512
    assert ap.depth == 1
    assert ap.text() == "<sbuf 4, 1024 + 512 * i0, [[1, 16], [8, 4], [1, 8]]>"
    assert _text(ap) == "#accel.ap<sbuf 4, 1024 + 512 * i0, [[1, 16], [8, 4], [1, 8]]>"


def test_dram_access_text_has_no_partition_start():
    ap = AccessAttr.get("dram", 0, Aff(4096, (3136,)), [(784, 128), (1, 32)])
    assert ap.text() == "<dram 4096 + 3136 * i0, [[784, 128], [1, 32]]>"
    parsed = Parser(_ctx(), "#accel.ap" + ap.text()).parse_attribute()
    assert parsed == ap


def test_access_equality_is_structural():
    a = AccessAttr.get("psum", 0, Aff(0, (32, 0)), [(1, 4)])
    b = AccessAttr.get("psum", Aff(0), Aff(0, (32,)), ((1, 4),))
    assert a == b


def test_access_dims_read_once_leave_equality_hash_and_text_alone():
    # `dims` is kept beside the parameters after its first read: an access whose
    # dims were read stays equal to, hashes like and prints like one whose were not.
    a = AccessAttr.get("sbuf", 0, Aff(64), [(1, 8), (4, 2)])
    b = AccessAttr.get("sbuf", 0, Aff(64), [(1, 8), (4, 2)])
    assert a.dims == ((1, 8), (4, 2)) and a.dims is a.dims
    assert a == b and hash(a) == hash(b) and {a: 1}[b] == 1
    assert a.text() == b.text() and _text(a) == _text(b)
    assert a.parameters == b.parameters
    assert a != AccessAttr.get("sbuf", 0, Aff(64), [(1, 8), (4, 3)])


@pytest.mark.parametrize(
    "args, message",
    [
        (("dram", 1, 0, [(1, 4)]), "a dram access has no partition start"),
        (("sbuf", 0, 0, [(2, 4)]), "on-chip access partition dim stride must be 1"),
        (("sbuf", 0, 0, [(1, 4), (1, 0)]), "access dim counts must be >= 1"),
        (("sbuf", 0, 0, []), "access must have 1 to 5 dims, got 0"),
        (("sbuf", 0, 0, [(1, 1)] * 6), "access must have 1 to 5 dims, got 6"),
    ],
)
def test_access_verifier(args: tuple, message: str):
    with pytest.raises(VerifyException, match=message):
        AccessAttr.get(*args)


def test_access_space_is_the_datasheet_enum():
    ap = AccessAttr.get(Space.PSUM, 0, 0, [(1, 4)])
    assert ap == AccessAttr.get("psum", 0, 0, [(1, 4)])
    assert ap.space is Space.PSUM and isinstance(ap.space_attr, SpaceAttr)
    with pytest.raises(ValueError, match="'hbm' is not a valid Space"):
        AccessAttr.get("hbm", 0, 0, [(1, 4)])


# --- ops ---------------------------------------------------------------------

S = AccessAttr.get("sbuf", 0, 0, [(1, 32), (1, 8)])
P = AccessAttr.get("psum", 0, 0, [(1, 32), (1, 8)])
W = AccessAttr.get("sbuf", 0, 64, [(1, 32), (1, 32)])
COL = AccessAttr.get("sbuf", 0, 128, [(1, 32), (1, 1)])


def test_instruction_api():
    dma = DmaOp(
        2, AccessAttr.get("dram", 0, 0, [(8, 32), (1, 8)]), S, signal=3, origin="x"
    )
    assert dma.engine_name() == "dma2"
    assert dma.reads()[0].space == "dram" and dma.writes() == [S]
    assert dma.signal is not None and dma.signal.value.data == 3
    assert dma.origin is not None and dma.origin.data == "x"
    mm = MatmulOp(P, W, S, zero_at=-1)
    assert mm.engine_name() == "pe"
    assert mm.reads() == [W, S]  # overwrite: dst not read
    assert MatmulOp(P, W, S).reads() == [W, S, P]  # accumulate reads dst
    mm.set_signal(7)
    assert mm.signal is not None and mm.signal.value.data == 7
    act = ActOp("relu", S, P, scale=2.0, bias_col=COL)
    assert act.engine_name() == "act"
    assert act.reads() == [P, COL]
    assert act.scale_value == 2.0 and act.bias_value == 0.0 and act.bias is None
    assert ActOp("exp", S, S, scale=3.0, scale_col=COL).scale is None  # the column wins
    assert TensorTensorOp("add", S, S, S).engine_name() == "pool"
    assert ReduceOp(
        "max", AccessAttr.get("sbuf", 0, 0, [(1, 32), (1, 1)]), S, 1
    ).reads() == [S]
    assert MemsetOp(S, 0.0).writes() == [S]
    assert WaitOp("act", 1, Aff(2, (1,))).value.data == Aff(2, (1,))
    for op in (
        WaitOp("pool", 0, 1),
        SignalOp("pool", 0),
        NopOp("pool"),
        HaltOp("pool"),
    ):
        assert op.engine_name() == "pool"
        assert op.reads() == [] and op.writes() == []


def test_program_build_print_parse_roundtrip():
    inner = MatmulOp(
        AccessAttr.get("psum", 0, Aff(0, (32,)), [(1, 32), (1, 8)]),
        W,
        S,
        zero_at=1,
        origin="mm",
    )
    program = ProgramOp(
        "small",
        1 << 16,
        [
            StreamOp(
                "pe",
                [RepeatOp(2, [WaitOp("pe", 0, Aff(1, (1,))), RepeatOp(3, [inner])])],
            ),
            StreamOp("act", [ActOp("sigmoid", S, P, scale=0.5, bias=-1.0)]),
            StreamOp("pool", [MemsetOp(S, float("-inf"))]),
        ],
    )
    module = ModuleOp([program])
    module.verify()
    assert program.is_split
    assert repeat_depth(inner) == 2
    text = _text(module)
    assert "accel.wait pe sem 0 >= 1 + 1 * i0" in text
    assert "scale 0.5 bias -1.0" in text
    assert "0xFF800000" in text
    again = Parser(_ctx(), text).parse_module()
    again.verify()
    assert _text(again) == text
    assert again.is_structurally_equivalent(module)


# --- the datasheet's enums as attributes ------------------------------------


def test_enum_operands_take_names_or_members():
    act = ActOp("relu", S, P)
    assert isinstance(act.func, ActFuncAttr) and act.func.data is ActFunc.RELU
    assert act.func == ActOp(ActFunc.RELU, S, P).func
    assert TensorTensorOp(AluOp.SUB, S, S, S).op.data == "sub"
    assert ReduceOp("add", COL, S, 1).op.data is ReduceKind.ADD
    for bad in (
        lambda: ActOp("softsign", S, P),
        lambda: TensorTensorOp("div", S, S, S),
        lambda: ReduceOp("min", COL, S, 1),
    ):
        with pytest.raises(ValueError, match="is not a valid"):
            bad()


@pytest.mark.parametrize("func", list(ActFunc))
def test_every_activation_prints_and_parses(func: ActFunc):
    """A member added to the datasheet's ActFunc is accel syntax with no dialect change."""
    module = ModuleOp([ProgramOp("small", 64, [ActOp(func, S, P, bias=1.5)])])
    text = _text(module)
    assert f"accel.act {func.value} <sbuf" in text
    assert Parser(_ctx(), text).parse_module().is_structurally_equivalent(module)


def test_engine_attr_follows_the_datasheet_naming():
    assert [EngineAttr(n).data for n in ("pe", "act", "pool", "dma0", "dma12")]
    for bad in ("gpu", "dma", "dmax", "PE"):
        with pytest.raises(VerifyException, match=f"unknown engine '{bad}'"):
            EngineAttr(bad)
    names = ["dma1", "pool", "dma0", "pe", "dma10", "act", "dma2"]
    assert sorted(names, key=engine_sort_key) == [
        "pe",
        "act",
        "pool",
        "dma0",
        "dma1",
        "dma2",
        "dma10",
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "accel.act softsign <sbuf 0, 0, [[1, 4]]>, <sbuf 0, 0, [[1, 4]]>",
            "unknown activation 'softsign'",
        ),
        (
            "accel.tensor_tensor div <sbuf 0, 0, [[1, 4]]>, <sbuf 0, 0, [[1, 4]]>, <sbuf 0, 0, [[1, 4]]>",
            "unknown tensor_tensor op 'div'",
        ),
        (
            "accel.reduce min <sbuf 0, 0, [[1, 4]]>, <sbuf 0, 0, [[1, 4], [1, 2]]> over 1",
            "unknown reduce op 'min'",
        ),
        ("accel.nop dma", "unknown engine 'dma'"),
        (
            "accel.memset <hbm 0, 0, [[1, 4]]>, 0.0",
            "unknown memory space 'hbm' \\(dram, sbuf, psum\\)",
        ),
    ],
)
def test_unknown_names_are_parse_errors(text: str, message: str):
    with pytest.raises(ParseError, match=message):
        Parser(_ctx(), f'accel.program "small" dram 64 {{\n  {text}\n}}').parse_module()


def test_generic_form_names_enum_attributes():
    module = ModuleOp(
        [ProgramOp("small", 64, [StreamOp("dma3", [ActOp("exp", S, P)])])]
    )
    out = StringIO()
    Printer(stream=out, print_generic_format=True).print_op(module)
    generic = out.getvalue()
    assert "#accel<act_func exp>" in generic and "#accel<engine dma3>" in generic
    assert Parser(_ctx(), generic).parse_module().is_structurally_equivalent(module)


def test_repeat_depth_verifier():
    bad = DmaOp(
        0,
        AccessAttr.get("sbuf", 0, Aff(0, (0, 4)), [(1, 4)]),
        AccessAttr.get("sbuf", 0, 64, [(1, 4)]),
    )
    module = ModuleOp([ProgramOp("small", 64, [RepeatOp(2, [bad])])])
    with pytest.raises(
        VerifyException, match="uses repeat index i1 but is nested in 1"
    ):
        module.verify()


def test_every_datasheet_opcode_is_one_accel_op():
    """Engine, read/write roles and allowed spaces come from the entry, not the op."""
    ops = {op.name: op for op in Accel.operations if issubclass(op, InstructionOp)}
    assert sorted(ops) == sorted(e.mnemonic for e in INSTRUCTIONS.values())
    for entry in INSTRUCTIONS.values():
        assert ops[entry.mnemonic].entry() is entry
    assert ActOp("exp", S, P, scale_col=COL).reads() == [P, COL]
    assert DmaOp(5, S, P).engine_name() == "dma5"


def test_operand_spaces_come_from_the_datasheet():
    dram = AccessAttr.get("dram", 0, 0, [(8, 32), (1, 8)])
    for op, message in (
        (MatmulOp(S, W, S), "matmul dst must be in psum, got sbuf"),
        (ActOp("relu", dram, P), "act dst must be in sbuf or psum, got dram"),
        (
            ActOp(
                "relu", S, P, bias_col=AccessAttr.get("dram", 0, 0, [(1, 32), (1, 1)])
            ),
            "act bias column must be in sbuf or psum, got dram",
        ),
        (MemsetOp(dram, 0.0), "memset dst must be in sbuf or psum, got dram"),
    ):
        with pytest.raises(VerifyException, match=message):
            op.verify()

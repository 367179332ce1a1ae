"""The registries are the one place Tidal registers with xDSL: keys must match names."""

from xdsl.universe import Universe

from tidal.dialects import get_all_dialects
from tidal.passes import get_all_passes
from tidal.targets import get_all_targets


def test_pass_keys_match_pass_names():
    for key, factory in get_all_passes().items():
        assert factory().name == key


def test_dialect_keys_match_dialect_names():
    for key, factory in get_all_dialects().items():
        assert factory().name == key


def test_target_keys_match_target_names():
    for key, factory in get_all_targets().items():
        assert factory().name == key


def test_entry_point_registers_everything_once():
    multiverse = Universe.get_multiverse()  # raises on duplicate names
    for key in [*get_all_passes(), *get_all_dialects(), *get_all_targets()]:
        assert key in {**multiverse.all_passes, **multiverse.all_dialects, **multiverse.all_targets}

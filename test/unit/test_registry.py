"""The registries are the one place Tidal registers with xDSL: keys must match names,
and test-only passes stay out of the public registry."""

import os
import subprocess
import sys

import pytest
from xdsl.universe import Universe

from tidal.dialects import get_all_dialects
from tidal.passes import TEST_PASSES_VARIABLE, get_all_passes
from tidal.passes.testing import get_test_passes
from tidal.targets import get_all_targets


def test_pass_keys_match_pass_names():
    for key, factory in get_all_passes().items():
        assert factory().name == key


def test_test_pass_keys_match_pass_names():
    assert get_test_passes()
    for key, factory in get_test_passes().items():
        assert key.startswith("test-")
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


def test_public_registry_has_no_test_passes(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(TEST_PASSES_VARIABLE, raising=False)
    assert not [name for name in get_all_passes() if name.startswith("test-")]


def test_the_variable_adds_the_test_passes(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(TEST_PASSES_VARIABLE, "1")
    assert set(get_test_passes()) <= set(get_all_passes())


def _registered_through_entry_point(environ: dict[str, str]) -> set[str]:
    """The pass names xdsl-opt's universe holds in a fresh interpreter (the entry
    point reads the registry once, at import)."""
    code = (
        "from xdsl.universe import Universe; "
        "print('\\n'.join(Universe.get_multiverse().all_passes))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, check=True
    )
    return set(run.stdout.split())


def test_entry_point_offers_test_passes_only_when_asked():
    environ = {k: v for k, v in os.environ.items() if k != TEST_PASSES_VARIABLE}
    public = _registered_through_entry_point(environ)
    testing = _registered_through_entry_point({**environ, TEST_PASSES_VARIABLE: "1"})
    assert "graph-to-loop" in public
    assert not public & set(get_test_passes())
    assert set(get_test_passes()) <= testing

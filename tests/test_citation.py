"""CITATION.cff validated by cffconvert against the Citation File Format's schema.

cffconvert 2.0.0 needs jsonschema < 4, which napari's stack has long outgrown, so it gets a
fresh environment of its own, cached as ``tests/fresh_envs.py`` says. What the file says
(this software, the DivNoising paper as the preferred citation) is checked in
``test_conventions.py``. Measured on two cores shared with other work: cold (the
environment built) 80 s with nothing in pip's cache, 12 s with it; warm 5 s.
"""

from __future__ import annotations

import pytest

from .conventions import ROOT
from .fresh_envs import fresh_env, python_of, run

#: Seconds the whole module may take on a cold cache.
BUDGET_S = 240
#: The converter and validator of the Citation File Format's own project.
CFFCONVERT = "cffconvert==2.0.0"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(BUDGET_S)]


def test_citation_cff_is_valid(cache, budget):
    env = fresh_env(cache / "validator-cff", (CFFCONVERT,), budget=budget)
    cffconvert = [python_of(env).with_name("cffconvert"), "--validate"]
    run([*cffconvert, "-i", ROOT / "CITATION.cff"], what="cffconvert --validate", budget=budget)

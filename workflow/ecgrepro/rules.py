"""The verdict rules in force: the ``claims:`` and ``convergence:`` configuration.

Every run records the digest of these rules as they stood when it ran
(``provenance.json`` -> ``rules.digest``), and the aggregate compares it with the rules
that judge the run, so that a rule changed after the runs it judges is disclosed, not
hidden (preregistration as a mechanism). Standard library only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

#: The configuration keys that make up the verdict rules.
RULE_KEYS = ("claims", "convergence")


def rules_of(config: Mapping) -> dict:
    """The rule sections of a configuration (absent sections as empty mappings)."""
    return {key: config.get(key) or {} for key in RULE_KEYS}


def rules_digest(config: Mapping) -> str:
    """Hex sha256 of the canonical JSON of :func:`rules_of` ``(config)``.

    Key order and YAML formatting do not matter; any changed value, threshold or claim
    does. Integers and floats that compare equal (``1`` and ``1.0``) hash differently,
    as JSON writes them differently.
    """
    text = json.dumps(rules_of(config), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()

"""Synthetic rule bases of any size, shaped like the bundled one.

Same four kinds of model (two with 6 and 5 levels, two without), prerequisite chains
(about 40% of practices require one or two earlier ones of the same or a lower level),
context rules in the bundled proportion (about one per six practices: status, metric
and user-base conditions; raise, lower, include, require and warn effects) and the
bundled outsourcing policy. Deterministic for a given size and seed.

    python -m bench.synthetic 10000 /tmp/rules-10k
"""

from __future__ import annotations

import random
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

from engine.rulebase import BUNDLED_RULES

MODELS = [
    ("syn-devsecops", 6, 7),
    ("syn-itsm", 5, 6),
    ("syn-hpit", 0, 7),
    ("syn-agile", 0, 6),
]
SHARES = [39, 21, 34, 17]  # practices per model in the bundled rule base
CONTEXT_RULES_PER_PRACTICE = 18 / 111
SOURCE = {"addition": "synthetic benchmark entry"}
STATUSES = ["adopted", "partial", "not-applicable", "not-started"]
METRICS = ["keep_the_lights_on_share", "staff_turnover_rate", "self_service_share"]


def _practices(size: int, rng: random.Random) -> list[dict[str, Any]]:
    practices: list[dict[str, Any]] = []
    total_share = sum(SHARES)
    counts = [size * share // total_share for share in SHARES]
    counts[0] += size - sum(counts)
    for (model, levels, axes), count in zip(MODELS, counts, strict=True):
        own: list[dict[str, Any]] = []
        for n in range(count):
            practice: dict[str, Any] = {
                "id": f"{model}-p{n}",
                "title": f"Practice {n} of {model}",
                "description": "A synthetic practice.",
                "model": model,
                "axis": f"axis-{n % axes}",
                "effort": rng.randint(1, 5),
                "value": rng.randint(1, 5),
                "source": SOURCE,
            }
            if levels:
                practice["level"] = 2 + (n * (levels - 1)) // max(count, 1)
            earlier = [p for p in own[-50:] if p.get("level", 0) <= practice.get("level", 0)]
            if earlier and rng.random() < 0.4:
                chosen = rng.sample(earlier, k=min(len(earlier), rng.randint(1, 2)))
                practice["requires"] = [p["id"] for p in chosen]
            own.append(practice)
        practices.extend(own)
    return practices


def _condition(rng: random.Random, ids: list[str]) -> dict[str, Any]:
    tests: list[dict[str, Any]] = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.random()
        if kind < 0.6:
            tests.append(
                {"practice": rng.choice(ids), "in": rng.sample(STATUSES, k=rng.randint(1, 2))}
            )
        elif kind < 0.9:
            op = rng.choice(["lt", "lte", "gt", "gte"])
            tests.append({"metric": rng.choice(METRICS), op: round(rng.random(), 2)})
        else:
            tests.append(
                {
                    "context": "user_base",
                    "in": [rng.choice(["external-homogeneous", "internal-complex"])],
                }
            )
    if len(tests) == 1:
        return tests[0]
    return {"all": tests} if rng.random() < 0.8 else {"any": tests}


def _effects(
    rng: random.Random, practices: list[dict[str, Any]], index: dict[str, int]
) -> list[dict[str, Any]]:
    effects: list[dict[str, Any]] = []
    ids = [p["id"] for p in practices]
    for _ in range(rng.randint(1, 2)):
        kind = rng.random()
        if kind < 0.45:
            effect: dict[str, Any] = {
                "effect": rng.choice(["raise", "lower"]),
                "by": rng.randint(1, 3),
            }
            if rng.random() < 0.7:
                effect["practices"] = sorted(set(rng.sample(ids, k=2)))
            else:
                model, _, axes = rng.choice(MODELS)
                effect["model"] = model
                if rng.random() < 0.5:
                    effect["axis"] = f"axis-{rng.randrange(axes)}"
            effects.append(effect)
        elif kind < 0.65:
            effects.append({"effect": "include", "practices": [rng.choice(ids)]})
        elif kind < 0.8:
            # Require an earlier practice of the same model: keeps the graph acyclic.
            later = rng.choice(practices)
            earlier = [
                p["id"]
                for p in practices
                if p["model"] == later["model"] and index[p["id"]] < index[later["id"]]
            ]
            if earlier:
                effects.append(
                    {
                        "effect": "require",
                        "practice": later["id"],
                        "requires": [rng.choice(earlier)],
                    }
                )
        else:
            effects.append(
                {
                    "effect": "warn",
                    "code": "synthetic",
                    "message": "A synthetic warning.",
                    "practices": [rng.choice(ids)],
                }
            )
    return effects or [{"effect": "raise", "practices": [ids[0]], "by": 1}]


def generate(size: int, directory: Path, seed: int = 7) -> Path:
    """Write a rule base of ``size`` practices into ``directory`` (replaced)."""
    rng = random.Random(seed)  # noqa: S311  (reproducible test data, not secrets)
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    practices = _practices(size, rng)
    index = {p["id"]: n for n, p in enumerate(practices)}
    ids = list(index)
    manifest = {
        "format": 1,
        "version": f"synthetic-{size}",
        "title": f"Synthetic rule base, {size} practices",
    }
    (directory / "rulebase.yaml").write_text(yaml.safe_dump(manifest))
    for model, levels, axes in MODELS:
        data: dict[str, Any] = {
            "model": {
                "id": model,
                "title": model,
                "axes": [{"id": f"axis-{n}", "title": f"Axis {n}"} for n in range(axes)],
                "source": SOURCE,
            },
            "practices": [p for p in practices if p["model"] == model],
        }
        if levels:
            data["model"]["levels"] = [
                {"level": n, "title": f"Level {n}"} for n in range(1, levels + 1)
            ]
        (directory / f"{model}.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    rules = [
        {
            "id": f"syn-rule-{n}",
            "title": f"Synthetic rule {n}",
            "when": _condition(rng, ids),
            "effects": _effects(rng, practices, index),
            "source": SOURCE,
        }
        for n in range(max(1, round(size * CONTEXT_RULES_PER_PRACTICE)))
    ]
    (directory / "context.yaml").write_text(
        yaml.safe_dump({"context_rules": rules}, sort_keys=False)
    )
    shutil.copy(BUNDLED_RULES / "outsourcing.yaml", directory / "outsourcing.yaml")
    outsourcing = yaml.safe_load((directory / "outsourcing.yaml").read_text())
    outsourcing["outsourcing"]["provisional_unless_adopted"] = [ids[0]]
    (directory / "outsourcing.yaml").write_text(yaml.safe_dump(outsourcing, sort_keys=False))
    return directory


if __name__ == "__main__":
    target = generate(int(sys.argv[1]), Path(sys.argv[2]))
    print(f"wrote {target}")

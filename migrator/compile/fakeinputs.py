"""What the planner takes from the fake stage: generated sources to read, masks to apply, and
what the manifest says about both.

One object per compile: it checks what only Faker can check before a row is read, opens the
plan's generated sources at the requested scale, builds each masked field's mask with the secret
(refusing to start without one), and describes generated sources and masks for the manifest:
the Faker version, the scale and the key id, never the secret itself.
"""

from __future__ import annotations

from migrator.compile.transform import Mask
from migrator.errors import PlanError, UsageError
from migrator.fake.checks import fake_problems, masked_fields, uses_fake
from migrator.fake.generate import Generation
from migrator.fake.masks import Masker, MaskKey
from migrator.fake.pools import faker_version
from migrator.plan.model import ObjectSpec, Plan


class FakeInputs:
    def __init__(self, plan: Plan, *, scale: int = 1, mask_key: MaskKey | None = None):
        self.plan, self.scale, self.key = plan, scale, mask_key
        self.used = uses_fake(plan)
        if self.used and (problems := fake_problems(plan)):
            raise PlanError(problems)
        self.generation = Generation([s.source.generate for s in plan.objects if s.source.generate is not None],
                                     scale=scale, variables=plan.variables)
        self.masked = masked_fields(plan)  # step -> field -> what its mask does
        self._masks = self._maskers()

    def _maskers(self) -> dict[str, dict[str, Mask]]:
        if not self.masked:
            return {}
        if self.key is None:
            names = ", ".join(f"{step}.{name}" for step, fields in self.masked.items() for name in fields)
            raise UsageError(f"the plan masks {names}, and masks are keyed by a secret: set MIGRATOR_MASK_SECRET (or "
                             "the variable the target's mask_secret_env names) to a long random text, e.g. the "
                             "output of `openssl rand -hex 32`, and keep it: the same secret gives the same masks "
                             "in every run")
        key = self.key
        return {s.name: {f.name: Masker(f.mask, key) for f in s.fields if f.mask is not None}
                for s in self.plan.objects if s.name in self.masked}

    def masks(self, step: str) -> dict[str, Mask]:
        return self._masks.get(step, {})

    def generated(self, spec: ObjectSpec) -> dict[str, object] | None:
        """What a generated source was asked for and made (None for sources read from files)."""
        generate = spec.source.generate
        if generate is None:
            return None
        shape: dict[str, object] = {"rows": self.generation.total(spec.name), "seed": generate.seed,
                                    "locale": generate.locale}
        if generate.per is None:
            shape["count"] = generate.count
        else:
            assert generate.children is not None
            shape.update(per=generate.per, children=generate.children.describe())
        return shape

    def summary(self) -> dict[str, object]:
        """What makes generated and masked values what they are, besides the plan: never the secret."""
        if not self.used:
            return {}
        summary: dict[str, object] = {"faker": faker_version(), "scale": self.scale}
        if self.key is not None and self.masked:
            summary.update(mask_key_id=self.key.key_id, mask_secret_from=self.key.source)
        return summary

"""The run config: what a training run records in its ``config.json``, as one typed object.

``train`` builds a :class:`RunConfig` and writes it; every reader (evaluate, ensemble, the region
vote, saliency, diagnose, distillation's teacher check, the results table, a model's label set) gets
it from :meth:`RunConfig.read` — nobody indexes the JSON by key. The file name lives here alone.

The runs layer sits below training, so the variant and the recipe stay the plain records training
wrote (``Variant.from_dict`` and ``Recipe.from_dict`` in ``fer_keras.training`` rebuild them); the
data and the prepared split sizes, which every reader needs, are typed here.

Versions: ``schema_version`` 2 is the first that says its version. A ``config.json`` without one
(schema 1, every run made before) is upgraded by :meth:`RunConfig.from_dict`: the fields it lacks
take the values those runs had (no recipe record, paper size, no stages, …). Unknown keys are
refused, not dropped — a config written by a newer fer_keras is named, not half read.
"""

import json
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from fer_keras.errors import FERError
from fer_keras.files import atomic_write

CONFIG = "config.json"
SCHEMA_VERSION = 2
"""2: ``schema_version`` recorded. 1: the unversioned ``config.json`` of every earlier run."""

DAMAGED = ("the run folder is damaged: train it again, or evaluate its model with "
           "--model best.keras --data PATH --variant NAME")


@dataclass(frozen=True)
class DataRecord:
    """The data a run trained on: where from, its fingerprint (checked when it is loaded again), its
    label set and what cleaning left. Old runs recorded only the first five of these."""

    source: str
    fingerprint: str
    rows: int | None = None
    label_set: str = "fer2013"
    classes: list | None = None
    ferplus_mode: str | None = None
    rows_after_cleaning: int | None = None
    cleaning_notes: list = field(default_factory=list)
    streamed: bool = False
    validation_cache_batches: int | None = None


@dataclass(frozen=True)
class PreparedRecord:
    """The split sizes after preparation, the balancing and the protocol (``leaky``: the test or
    validation split was trained on or drawn after resampling)."""

    train: int | None = None
    val: int | None = None
    test: int | None = None
    sampling: str | None = None
    protocol: str | None = None
    leaky: bool = False
    class_weight: dict | None = None
    notes: list = field(default_factory=list)


@dataclass(frozen=True)
class RunConfig:
    """A run's ``config.json`` (see the module docstring). ``variant`` and ``recipe`` are the records of
    ``Variant.to_dict`` / ``Recipe.to_dict``; ``stages`` one record per stage with its epochs and images."""

    variant: dict
    data: DataRecord
    schema_version: int = SCHEMA_VERSION
    resume_key: str | None = None
    command: str | None = None
    prepared: PreparedRecord = field(default_factory=PreparedRecord)
    stages: list = field(default_factory=list)
    extra_train: dict | None = None
    seed: int = 0
    epochs: int | None = None
    batch_size: int | None = None
    precision_policy: str | None = None
    steps_per_execution: int | None = None
    distribution: dict | None = None
    per_class: int | None = None
    model_kwargs: dict = field(default_factory=dict)
    recipe: dict | None = None
    time_budget_minutes: float | None = None
    budget_clock: str | None = None
    snapshots: dict | None = None
    size: str = "paper"
    deviations: list = field(default_factory=list)
    precise_bn: str | None = None
    teacher: dict | None = None
    init: dict | None = None
    versions: dict | None = None
    created: str | None = None
    resumed: list = field(default_factory=list)

    @property
    def variant_name(self):
        return self.variant["name"]

    @property
    def protocol(self):
        """The run's protocol: the prepared one (a staged run is LEAKY on an honest split), else the variant's."""
        return self.prepared.protocol or self.variant.get("protocol", "honest")

    @property
    def leaky(self):
        return bool(self.prepared.leaky) or self.variant.get("protocol", "honest") != "honest"

    def to_dict(self):
        """The JSON object ``config.json`` holds."""
        return asdict(self)

    @classmethod
    def from_dict(cls, record, source=CONFIG):
        """The RunConfig of a parsed ``config.json`` (``source`` names it in errors), schema 1 upgraded.
        One FERError line for anything its readers cannot use: not an object, no variant name or data
        fingerprint, an unknown key, a value of the wrong JSON type."""
        problem = _shape_problem(record)
        if problem:
            raise FERError(f"{source} {problem}; {DAMAGED}")
        version = record.get("schema_version", 1)
        if version not in (1, SCHEMA_VERSION):
            raise FERError(f"{source} has schema_version {version!r}, which this fer_keras does not read (it reads 1 "
                           f"and {SCHEMA_VERSION}); use the fer_keras version that trained the run")
        return _typed(cls, {**record, "schema_version": SCHEMA_VERSION}, source, "")

    @classmethod
    def read(cls, path):
        """The RunConfig in the file ``path``: one FERError line naming it when it is unreadable."""
        return cls.from_dict(read_record(path), path)

    def write(self, path):
        """Write ``config.json`` atomically (a crash never leaves half a file)."""
        text = json.dumps(self.to_dict(), indent=2)
        atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def read_record(path):
    """The JSON value in the file ``path`` (a ``config.json``): one FERError line naming it when it is
    unreadable. :meth:`RunConfig.read` types it; the results table also reads the records evaluations
    write beside their metrics in the same file name (``evaluation.results``)."""
    path = Path(path)
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise FERError(f"{path} is not valid JSON ({_one_line(err)}); {DAMAGED}") from None
    except OSError as err:
        raise FERError(f"{path} cannot be read ({err.strerror or err})") from None


VARIANT_FIELDS = {"cleaning": list, "split": str, "protocol": str, "sampling": str, "model": str,
                  "binary_emotion": str, "callbacks": dict}
"""Fields of the recorded variant that readers use before ``Variant.from_dict`` rebuilds it (the ensemble's
split key, the label names), with their JSON types when present."""


def _shape_problem(record):
    """The problems the readers named before the config was typed (kept word for word), or None."""
    if not isinstance(record, dict):
        return f"holds a JSON {type(record).__name__}, not an object"
    variant, data = record.get("variant"), record.get("data")
    if not isinstance(variant, dict) or not isinstance(variant.get("name"), str):
        return "has no 'variant' object with a 'name'"
    for key, kind in VARIANT_FIELDS.items():  # the variant stays a plain record: the fields read before it is rebuilt
        value = variant.get(key)
        if value is not None and (not isinstance(value, kind) or kind is list and not all(
                isinstance(item, str) for item in value)):
            return (f"records 'variant.{key}' as {_json_type(value)}, not "
                    f"{'a list of names' if kind is list else _describe(kind)}")
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("source", "fingerprint")):
        return "has no 'data' object with a 'source' and a 'fingerprint'"
    seed = record.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool):
        return f"records the seed {seed!r}, not an integer"
    if not isinstance(record.get("prepared", {}), dict):
        return "has a 'prepared' entry that is not an object"
    return None


def _typed(cls, record, source, prefix):
    """``cls`` (a record dataclass) from the JSON object ``record``: unknown keys and values of the wrong
    JSON type are one FERError line naming ``source`` and the key (``prefix``: its parent's, dotted)."""
    declared = {f.name: f for f in fields(cls)}
    unknown = sorted(set(record) - set(declared))
    if unknown:
        raise FERError(f"{source} records the unknown key {prefix + unknown[0]!r}; this fer_keras does not know it: "
                       "read the run with the version that trained it")
    values = {}
    for name, value in record.items():
        kind = declared[name].type
        if isinstance(kind, type) and kind.__module__ == __name__:  # a nested record
            if not isinstance(value, dict):
                raise FERError(f"{source} records {prefix + name!r} as {_json_type(value)}, not an object; {DAMAGED}")
            value = _typed(kind, value, source, f"{prefix}{name}.")
        elif not _matches(value, kind):
            raise FERError(f"{source} records {prefix + name!r} as {_json_type(value)}, not {_describe(kind)}; "
                           f"{DAMAGED}")
        values[name] = value
    return cls(**values)


def _allowed(kind):
    """The Python types of the JSON values an annotation admits (``float`` admits integers)."""
    options = typing.get_args(kind) if isinstance(kind, types.UnionType) else (kind,)
    allowed = tuple(o for o in options if o is not type(None))
    return allowed + ((int,) if float in allowed else ()), type(None) in options


def _matches(value, kind):
    allowed, optional = _allowed(kind)
    if value is None:
        return optional
    if isinstance(value, bool):
        return bool in allowed
    return isinstance(value, allowed)


def _describe(kind):
    allowed, optional = _allowed(kind)
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", dict: "an object",
             list: "a list"}
    words = list(dict.fromkeys(names[t] for t in allowed))
    return " or ".join(words + (["null"] if optional else []))


def _json_type(value):
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


def _one_line(err):
    """An exception's message as one short line."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 160 else text[:160] + "…"

"""A SageMaker pipeline definition (schema 2020-12-01, as the SDK's `Pipeline.definition()` writes it).

`parse` checks a definition once, when it is created or updated, so a bad one is refused with the step named
instead of failing mid-run: known step types, unique names, references (`Get: Steps.X...`, `DependsOn`,
parameters) that name something that exists, and no cycle. `Resolver` then turns the definition's
expressions (`Get`, `Std:Join`, `Std:JsonGet`) into values as the execution goes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from outcrop.protocol.errors import ValidationException

STEP_TYPES = ("Training", "Processing", "Model", "RegisterModel", "Transform", "Tuning")
STEP_TYPES_MORE = ("Condition", "Fail", "Lambda")
PARAMETER_TYPES = {"String": str, "Integer": int, "Float": float, "Boolean": bool}
EXECUTION_VARIABLES = (
    "PipelineExecutionId",
    "PipelineExecutionArn",
    "PipelineName",
    "PipelineArn",
    "StartDateTime",
    "CurrentDateTime",
)
# What the SDK always writes into each step type's Arguments; a definition without it would fail mid-run.
REQUIRED = {
    "Training": ("AlgorithmSpecification", "OutputDataConfig"),
    "Processing": ("AppSpecification", "ProcessingResources"),
    "Transform": ("ModelName", "TransformInput", "TransformOutput", "TransformResources"),
    "Tuning": ("HyperParameterTuningJobConfig",),
    "Fail": (),
}
_STEP_REF = re.compile(r"^Steps\.([^.\[]+)")
_PATH_PART = re.compile(r"\.?([A-Za-z_][\w-]*)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


class DefinitionError(ValidationException):
    """The definition cannot run; the message names the step at fault."""


@dataclass
class Step:
    name: str
    type: str
    arguments: dict[str, Any]
    raw: dict[str, Any]
    depends_on: set[str] = field(default_factory=set)
    branch_of: str | None = None  # the ConditionStep whose IfSteps/ElseSteps hold this step
    branch: str | None = None  # "True" (IfSteps) or "False" (ElseSteps)


@dataclass
class Definition:
    parameters: dict[str, dict[str, Any]]
    steps: dict[str, Step]  # every step, condition branches included, in definition order

    def order(self) -> list[str]:
        return list(self.steps)


def parse(text: str) -> Definition:
    """Check a definition; raises DefinitionError naming what is wrong."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise DefinitionError(f"The pipeline definition is not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("Steps"), list):
        raise DefinitionError("The pipeline definition must be a JSON object with a Steps list.")
    version = document.get("Version", "2020-12-01")
    if version != "2020-12-01":
        raise DefinitionError(f"Unsupported pipeline definition Version {version!r}: only 2020-12-01 is.")
    parameters: dict[str, dict[str, Any]] = {}
    for parameter in document.get("Parameters") or []:
        name, kind = parameter.get("Name"), parameter.get("Type", "String")
        if not isinstance(name, str) or kind not in PARAMETER_TYPES:
            raise DefinitionError(f"Pipeline parameter {name!r} has an unknown Type {kind!r}.")
        parameters[name] = parameter
    steps: dict[str, Step] = {}
    _collect(document["Steps"], steps, None, None)
    definition = Definition(parameters, steps)
    for step in steps.values():
        _check_references(definition, step)
    _check_acyclic(definition)
    return definition


def _collect(raw_steps: list[Any], steps: dict[str, Step], branch_of: str | None, branch: str | None) -> None:
    for raw in raw_steps:
        if not isinstance(raw, dict) or not isinstance(raw.get("Name"), str):
            raise DefinitionError("Every pipeline step needs a Name.")
        name, kind = raw["Name"], raw.get("Type")
        if kind not in STEP_TYPES + STEP_TYPES_MORE:
            served = ", ".join(STEP_TYPES + STEP_TYPES_MORE)
            raise DefinitionError(f"Step {name}: step type {kind!r} is not supported; Outcrop runs {served}.")
        if name in steps:
            raise DefinitionError(f"Step {name}: step names must be unique within a pipeline.")
        arguments = raw.get("Arguments", {})
        if not isinstance(arguments, dict):
            raise DefinitionError(f"Step {name}: Arguments must be an object.")
        depends = raw.get("DependsOn") or []
        if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
            raise DefinitionError(f"Step {name}: DependsOn must be a list of step names.")
        missing = [m for m in REQUIRED.get(kind, ()) if m not in arguments]
        if kind == "Model" and not ("PrimaryContainer" in arguments or "Containers" in arguments):
            missing.append("PrimaryContainer")
        if missing:
            raise DefinitionError(f"Step {name}: a {kind} step's Arguments need {', '.join(missing)}.")
        step = Step(name, kind, arguments, raw, set(depends), branch_of, branch)
        steps[name] = step
        if kind == "Condition":
            if not isinstance(arguments.get("Conditions"), list):
                raise DefinitionError(f"Step {name}: a Condition step needs a Conditions list.")
            _collect(arguments.get("IfSteps") or [], steps, name, "True")
            _collect(arguments.get("ElseSteps") or [], steps, name, "False")
        if kind == "Lambda" and not raw.get("FunctionArn"):
            raise DefinitionError(f"Step {name}: a Lambda step needs a FunctionArn.")


def references(value: Any) -> Iterator[str]:
    """Every `Get` path inside a value."""
    if isinstance(value, dict):
        if set(value) == {"Get"} and isinstance(value["Get"], str):
            yield value["Get"]
            return
        for item in value.values():
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def step_expressions(step: Step) -> dict[str, Any]:
    """What a step's run reads: its arguments (less nested branch steps) and its Lambda/Fail fields."""
    arguments = {k: v for k, v in step.arguments.items() if k not in ("IfSteps", "ElseSteps")}
    return {"Arguments": arguments, "FunctionArn": step.raw.get("FunctionArn")}


def _check_references(definition: Definition, step: Step) -> None:
    for name in step.depends_on:
        if name not in definition.steps:
            raise DefinitionError(f"Step {step.name}: DependsOn names an unknown step {name!r}.")
    for path in references(step_expressions(step)):
        if path.startswith("Parameters."):
            if path.split(".", 1)[1] not in definition.parameters:
                raise DefinitionError(f"Step {step.name}: {path} names an undefined pipeline parameter.")
        elif path.startswith("Execution."):
            if path.split(".", 1)[1] not in EXECUTION_VARIABLES:
                raise DefinitionError(f"Step {step.name}: {path} is not an execution variable.")
        elif path.startswith("Steps."):
            found = _STEP_REF.match(path)
            target = found.group(1) if found else ""
            if target not in definition.steps:
                raise DefinitionError(f"Step {step.name}: {path} refers to an unknown step {target!r}.")
            if target == step.name:
                raise DefinitionError(f"Step {step.name}: {path} refers to the step itself.")
            step.depends_on.add(target)
        else:
            raise DefinitionError(f"Step {step.name}: cannot resolve the property reference {path!r}.")
    if step.branch_of is not None:
        step.depends_on.add(step.branch_of)


def _check_acyclic(definition: Definition) -> None:
    state: dict[str, int] = {}

    def visit(name: str) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            raise DefinitionError(f"Step {name}: the step dependencies form a cycle.")
        state[name] = 1
        for parent in definition.steps[name].depends_on:
            visit(parent)
        state[name] = 2

    for name in definition.steps:
        visit(name)


def parameter_values(definition: Definition, given: list[dict[str, str]]) -> dict[str, Any]:
    """The execution's parameters: the defaults, then what StartPipelineExecution passed, typed."""
    values: dict[str, Any] = {}
    supplied = {p["Name"]: p["Value"] for p in given}
    unknown = sorted(set(supplied) - set(definition.parameters))
    if unknown:
        raise ValidationException(f"Parameters {unknown} are not defined in the pipeline definition.")
    for name, parameter in definition.parameters.items():
        kind = parameter.get("Type", "String")
        if name in supplied:
            values[name] = _typed(name, kind, supplied[name])
        elif "DefaultValue" in parameter:
            values[name] = parameter["DefaultValue"]
        else:
            raise ValidationException(f"Parameter {name} has no default value and was not given a value.")
        allowed = parameter.get("EnumValues")
        if allowed and values[name] not in allowed:
            raise ValidationException(f"Parameter {name}: value {values[name]!r} is not one of {allowed}.")
    return values


def _typed(name: str, kind: str, text: str) -> Any:
    try:
        if kind == "Integer":
            return int(text)
        if kind == "Float":
            return float(text)
        if kind == "Boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
    except ValueError as exc:
        raise ValidationException(f"Parameter {name}: {text!r} is not a valid {kind}.") from exc
    return text


def walk_path(value: Any, path: str, where: str) -> Any:
    """Follow `A.B['key'][0].C` into a description; a list indexed by a string finds the item named so."""
    position = 0
    current = value
    while position < len(path):
        part = _PATH_PART.match(path, position)
        if part is None or part.end() == position:
            raise StepFailed(f"{where}: cannot parse the property path {path!r}.")
        position = part.end()
        attribute, index, key = part.group(1), part.group(2), part.group(3) or part.group(4)
        if attribute is not None:
            current = current.get(attribute) if isinstance(current, dict) else None
        elif index is not None:
            current = current[int(index)] if isinstance(current, list) and int(index) < len(current) else None
        elif isinstance(current, dict):
            current = current.get(key)
        elif isinstance(current, list):
            current = next((item for item in current if key in _names(item)), None)
        else:
            current = None
        if current is None:
            raise StepFailed(f"{where}: the property {path!r} has no value.")
    return current


def _names(item: Any) -> set[str]:
    if not isinstance(item, dict):
        return set()
    return {v for k, v in item.items() if k.endswith("Name") and isinstance(v, str)}


class StepFailed(Exception):
    """A step cannot go on: the message is its FailureReason; `metadata` what it had started (its job)."""

    def __init__(self, reason: str, metadata: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.metadata = metadata or {}


@dataclass
class Resolver:
    """Values of a running execution's expressions."""

    parameters: dict[str, Any]
    execution: dict[str, Any]
    properties: Callable[[str], dict[str, Any]]  # a finished step's properties, by step name
    read_json: Callable[[str], Any]  # the JSON document at an S3 URI
    property_files: Callable[[str, str], str]  # (step, property file) -> the file's S3 URI

    def resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, list):
            return [self.resolve(item, where) for item in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Get"}:
            return self.get(value["Get"], where)
        if set(value) == {"Std:Join"}:
            join = value["Std:Join"]
            values = self.resolve(join.get("Values", []), where)
            return str(join.get("On", "")).join(_text(v) for v in values)
        if set(value) == {"Std:JsonGet"}:
            return self._json_get(value["Std:JsonGet"], where)
        return {k: self.resolve(v, where) for k, v in value.items()}

    def get(self, path: str, where: str) -> Any:
        head, _, rest = path.partition(".")
        if head == "Parameters":
            return self.parameters[rest]
        if head == "Execution":
            return self.execution[rest]
        step, _, tail = rest.partition(".")
        found = _STEP_REF.match(path)
        step = found.group(1) if found else step
        tail = path[len("Steps.") + len(step) :].lstrip(".")
        return walk_path(self.properties(step), tail, where)

    def _json_get(self, spec: dict[str, Any], where: str) -> Any:
        source = spec.get("PropertyFile")
        if isinstance(source, dict) and isinstance(source.get("Get"), str):
            parts = source["Get"].split(".")
            if len(parts) != 4 or parts[2] != "PropertyFiles":
                raise StepFailed(f"{where}: {source['Get']!r} does not name a property file.")
            uri = self.property_files(parts[1], parts[3])
        elif "S3Uri" in spec:
            uri = _text(self.resolve(spec["S3Uri"], where))
        else:
            raise StepFailed(f"{where}: Std:JsonGet needs a PropertyFile or an S3Uri.")
        document = self.read_json(uri)
        return walk_path(document, str(spec.get("Path", "")), f"{where}: JsonGet {spec.get('Path')!r}")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

"""A flow definition checked as PrepareFlow checks it: node types, configurations, typed inputs and outputs,
connections, conditions and expressions, reachability and cycles. Each problem is a FlowValidation (its
`type` one of the botocore model's FlowValidationType values); any Error-severity one makes PrepareFlow fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from outcrop.protocol.errors import ValidationException
from outcrop.services.bedrock_agent.flow_expressions import ExpressionError, condition, input_path, words

# node type -> its configuration key, fixed input names (None: any), fixed output names and types (None: any)
NODE_KINDS: dict[str, tuple[str, dict[str, str] | None, dict[str, str] | None]] = {
    "Input": ("input", {}, None),
    "Output": ("output", {"document": ""}, {}),
    "Prompt": ("prompt", None, {"modelCompletion": "String"}),
    "KnowledgeBase": ("knowledgeBase", {"retrievalQuery": "String"}, None),
    "LambdaFunction": ("lambdaFunction", None, {"functionResponse": ""}),
    "Condition": ("condition", None, {}),
    "Iterator": ("iterator", {"array": "Array"}, {"arrayItem": "", "arraySize": "Number"}),
    "Collector": ("collector", {"arrayItem": "", "arraySize": "Number"}, {"collectedArray": "Array"}),
}
_CONFIG_OPTIONAL = ("Input", "Output", "Iterator", "Collector")  # their configurations are empty structures
UNSUPPORTED = ("Lex", "Storage", "Agent", "Retrieval", "InlineCode", "Loop", "LoopInput", "LoopController")


def refuse_unsupported(definition: dict[str, Any] | None) -> None:
    """CreateFlow and UpdateFlow refuse node types this server cannot run, naming them."""
    for node in (definition or {}).get("nodes") or []:
        if node["type"] in UNSUPPORTED:
            raise ValidationException(
                f"The node {node['name']} has type {node['type']}, which this server does not run. Supported "
                f"node types: {', '.join(NODE_KINDS)}."
            )
        settings = (node.get("configuration") or {}).get(NODE_KINDS[node["type"]][0]) or {}
        if settings.get("orchestrationConfiguration"):
            raise ValidationException(
                f"The node {node['name']} sets orchestrationConfiguration, which flows on this server do not "
                "support. Remove it and try again."
            )
        _check_guardrail(node, settings)


def _check_guardrail(node: dict[str, Any], settings: dict[str, Any]) -> None:
    """A Prompt or KnowledgeBase node's guardrail is enforced when the flow runs (bedrock_agent_runtime's
    flow_guard); it must name a version, and a knowledge-base node must generate a response for it to read."""
    guardrail = settings.get("guardrailConfiguration")
    if guardrail is None:
        return
    if not guardrail.get("guardrailIdentifier") or not guardrail.get("guardrailVersion"):
        raise ValidationException(
            f"The guardrailConfiguration of node {node['name']} needs both guardrailIdentifier and "
            "guardrailVersion."
        )
    if node["type"] == "KnowledgeBase" and not settings.get("modelId"):
        raise ValidationException(
            f"The knowledge base node {node['name']} sets guardrailConfiguration without a modelId: a "
            "guardrail applies to the query and the generated response, so give the node a modelId or remove "
            "the guardrail."
        )


def _error(kind: str, message: str) -> dict[str, Any]:
    return {"message": message, "severity": "Error", "type": kind}


def validations(definition: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every problem of a definition (an empty list for one ready to run)."""
    definition = definition or {}
    nodes = {node["name"]: node for node in definition.get("nodes") or []}
    connections = definition.get("connections") or []
    found = list(_node_problems(definition.get("nodes") or []))
    found += list(_connection_problems(nodes, connections))
    found += list(_graph_problems(nodes, connections))
    return found


def _node_problems(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    seen: set[str] = set()
    kinds = [node["type"] for node in nodes]
    if kinds.count("Input") != 1:
        yield _error("MissingStartingNodes", "A flow must have exactly one Input node.")
    if "Output" not in kinds:
        yield _error("MissingEndingNodes", "A flow must have at least one Output node.")
    for node in nodes:
        name, kind = node["name"], node["type"]
        if name in seen:
            yield _error("Unspecified", f"More than one node is named {name}.")
        seen.add(name)
        if kind in UNSUPPORTED:
            yield _error("Unspecified", f"Node {name} has type {kind}, which this server does not run.")
            continue
        key, inputs, outputs = NODE_KINDS[kind]
        configuration = node.get("configuration") or {}
        if (configuration or kind not in _CONFIG_OPTIONAL) and key not in configuration:
            yield _error(
                "MissingNodeConfiguration", f"Node {name} of type {kind} needs a {key} configuration."
            )
        have_in = {i["name"]: i for i in node.get("inputs") or []}
        have_out = {o["name"]: o for o in node.get("outputs") or []}
        for spec, have, side in ((inputs, have_in, "input"), (outputs, have_out, "output")):
            if spec is None:
                continue
            title = side.capitalize()
            for missing in set(spec) - set(have):
                yield _error(f"MissingNode{title}", f"Node {name} is missing the {side} {missing}.")
            for unknown in set(have) - set(spec):
                yield _error(f"UnknownNode{title}", f"Node {name} of type {kind} has no {side} {unknown}.")
            for field, wanted in spec.items():
                if wanted and field in have and have[field]["type"] != wanted:
                    yield _error(
                        f"MismatchedNode{title}Type",
                        f"The {side} {field} of node {name} must have type {wanted}, "
                        f"not {have[field]['type']}.",
                    )
        if kind == "Input" and len(have_out) != 1:
            yield _error("MissingNodeOutput", f"Input node {name} must have exactly one output.")
        if kind == "KnowledgeBase":
            config = (node.get("configuration") or {}).get("knowledgeBase") or {}
            wanted_out = "outputText" if config.get("modelId") else "retrievalResults"
            if set(have_out) != {wanted_out}:
                yield _error(
                    "UnknownNodeOutput",
                    f"KnowledgeBase node {name} must have exactly one output, {wanted_out}.",
                )
        for field in have_in.values():
            try:
                input_path(field["expression"])
            except ExpressionError as error:
                yield _error("MalformedNodeInputExpression", f"Node {name}: {error}")
        if kind == "Condition":
            yield from _condition_problems(node, set(have_in))


def _condition_problems(node: dict[str, Any], inputs: set[str]) -> Iterator[dict[str, Any]]:
    name = node["name"]
    conditions = ((node.get("configuration") or {}).get("condition") or {}).get("conditions") or []
    if not any(c["name"] == "default" and not c.get("expression") for c in conditions):
        yield _error("MissingDefaultCondition", f"Condition node {name} needs a condition named default.")
    expressions: set[str] = set()
    for entry in conditions:
        expression = entry.get("expression")
        if entry["name"] == "default" or expression is None:
            continue
        if expression in expressions:
            yield _error("DuplicateConditionExpression", f"Condition node {name} repeats {expression}.")
        expressions.add(expression)
        try:
            condition(expression)
            unknown = words(expression) - inputs
        except ExpressionError as error:
            yield _error("MalformedConditionExpression", f"Condition node {name}: {error}")
            continue
        if unknown:
            yield _error(
                "MalformedConditionExpression",
                f"Condition {entry['name']} of node {name} names {', '.join(sorted(unknown))}, "
                "which are not inputs of it.",
            )


def _connection_problems(
    nodes: dict[str, dict[str, Any]], connections: list[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    fed: dict[tuple[str, str], int] = {}
    seen: set[tuple[str, ...]] = set()
    for connection in connections:
        label, source, target = connection["name"], connection["source"], connection["target"]
        config = connection.get("configuration") or {}
        key = (source, target, str(sorted((config.get("data") or config.get("conditional") or {}).items())))
        if key in seen:
            yield _error("DuplicateConnections", f"Connection {label} repeats another connection.")
        seen.add(key)
        if source not in nodes:
            yield _error(
                "UnknownConnectionSource", f"Connection {label} starts at {source}, which is not a node."
            )
            continue
        if target not in nodes:
            yield _error(
                "UnknownConnectionTarget", f"Connection {label} ends at {target}, which is not a node."
            )
            continue
        from_condition = nodes[source]["type"] == "Condition"
        if connection["type"] == "Conditional" or from_condition:
            conditional = config.get("conditional")
            if connection["type"] != "Conditional" or not from_condition or conditional is None:
                yield _error(
                    "MissingConnectionConfiguration",
                    f"Connection {label}: only Conditional connections, with a conditional configuration, "
                    "leave a Condition node.",
                )
                continue
            settings = (nodes[source].get("configuration") or {}).get("condition") or {}
            names = {c["name"] for c in settings.get("conditions") or []}
            if conditional["condition"] not in names:
                yield _error(
                    "UnknownConnectionCondition",
                    f"Connection {label} names condition {conditional['condition']}, "
                    f"not a condition of {source}.",
                )
            continue
        data = config.get("data")
        if data is None:
            yield _error(
                "MissingConnectionConfiguration", f"Data connection {label} needs a data configuration."
            )
            continue
        outputs = {o["name"]: o["type"] for o in nodes[source].get("outputs") or []}
        inputs = {i["name"]: i["type"] for i in nodes[target].get("inputs") or []}
        whole = {i["name"] for i in nodes[target].get("inputs") or [] if i["expression"].strip() == "$.data"}
        if data["sourceOutput"] not in outputs:
            yield _error(
                "UnknownConnectionSourceOutput",
                f"Connection {label}: {source} has no output {data['sourceOutput']}.",
            )
        elif data["targetInput"] not in inputs:
            yield _error(
                "UnknownConnectionTargetInput",
                f"Connection {label}: {target} has no input {data['targetInput']}.",
            )
        elif _incompatible(
            outputs[data["sourceOutput"]], inputs[data["targetInput"]], data["targetInput"] in whole
        ):
            yield _error(
                "IncompatibleConnectionDataType",
                f"Connection {label} joins {source}.{data['sourceOutput']} of type "
                f"{outputs[data['sourceOutput']]} to {target}.{data['targetInput']} of type "
                f"{inputs[data['targetInput']]}.",
            )
        fed[(target, data["targetInput"])] = fed.get((target, data["targetInput"]), 0) + 1
    for (target, field), count in fed.items():
        if count > 1:
            yield _error(
                "MultipleNodeInputConnections", f"The input {field} of node {target} has {count} connections."
            )
    for node in nodes.values():
        for field in node.get("inputs") or []:
            if (node["name"], field["name"]) not in fed:
                yield _error(
                    "UnfulfilledNodeInput",
                    f"The input {field['name']} of node {node['name']} has no connection.",
                )


def _incompatible(source: str, target: str, whole: bool) -> bool:
    """An input taking the whole value (`$.data`) needs the output's type; one picking a part of it
    (`$.data.genre`) needs an Object or Array to pick from."""
    return source != target if whole else source not in ("Object", "Array")


def _graph_problems(
    nodes: dict[str, dict[str, Any]], connections: list[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    after: dict[str, set[str]] = {name: set() for name in nodes}
    for connection in connections:
        if connection["source"] in nodes and connection["target"] in nodes:
            after[connection["source"]].add(connection["target"])
    starts = [name for name, node in nodes.items() if node["type"] == "Input"]
    reached: set[str] = set()
    todo = list(starts)
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo.extend(after[name])
    for name in nodes:
        if starts and name not in reached:
            yield _error("UnreachableNode", f"Node {name} cannot be reached from the Input node.")
    state: dict[str, int] = {}

    def cyclic(name: str) -> bool:
        state[name] = 1
        for nxt in after[name]:
            if state.get(nxt) == 1 or (nxt not in state and cyclic(nxt)):
                return True
        state[name] = 2
        return False

    if any(name not in state and cyclic(name) for name in nodes):
        yield _error("CyclicConnection", "The flow's connections form a cycle.")


def require_valid(definition: dict[str, Any] | None) -> None:
    """PrepareFlow's check: a ValidationException listing every error."""
    errors = [v["message"] for v in validations(definition) if v["severity"] == "Error"]
    if errors:
        raise ValidationException("Flow definition is invalid: " + " ".join(errors))

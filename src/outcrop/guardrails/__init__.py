"""Bedrock Guardrails' domain: stored guardrails and their numbered versions (`store`), the policies' checks
as AWS states them (`policies`), the detectors each policy runs on (`detectors/`), one evaluation of content
against a guardrail version (`engine`), and what a model call does with a guardrail (`enforce`).

The control plane (`services/bedrock`), ApplyGuardrail and the model calls (`services/bedrock_runtime`),
RetrieveAndGenerate and agents (`services/bedrock_agent_runtime`) and the OpenAI-compatible API all use the
one `Guardrails` object the app holds, so every path evaluates a guardrail the same way.
"""

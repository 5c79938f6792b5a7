"""The detectors each guardrail policy runs on: PII entities (`pii`), custom regexes (`regexes`), custom
and managed words (`words`), contextual grounding and relevance (`grounding`), content filters and prompt
attacks (`content`) and denied topics (`topics`)."""

"""The REST service: spec-000 jobs API, spec-002 photo-enhancer API, accounts, keys, limits, storage."""

"""The REST doors: spec-000 jobs API, spec-002 photo-enhancer API, admin API, docs and edges (over ``service``)."""

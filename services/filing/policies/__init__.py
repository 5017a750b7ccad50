"""Region filing policies as data: one YAML per insured region plus the national default."""

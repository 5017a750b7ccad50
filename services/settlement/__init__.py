"""Settlement service 直接结算: treating-place assessment, insured-place decision, reversals (S-01..S-20)."""

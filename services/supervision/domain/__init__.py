"""Supervision domain 基金监管: the run indicators (``indicators``), the smart-audit rule base as data
(``rules``, ``data/audit_rules.yaml``) and running it on a settlement (``audit``). Pure decisions."""

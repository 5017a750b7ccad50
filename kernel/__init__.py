"""Shared kernel 共享内核: domain code several services import.

Pure rules, no I/O, that more than one service applies the same way, so they are written once:

* :mod:`kernel.filings` — the filing read model and whether a filing covers a place and a moment
  (filing, settlement, collab; F-06, F-07, F-12, F-14);
* :mod:`kernel.eligibility` — may this visit settle directly across regions (settlement; F-04, F-05,
  F-12, S-08, S-11, S-12);
* :mod:`kernel.clearing_month` — the clearing period an amount belongs to (settlement, clearing; C-02);
* :mod:`kernel.sanctions` — an insured region's sanctions as its enforcers fold them (filing F-16,
  settlement S-20).

``contracts/`` holds the messages and their field validation; it imports nothing from here.
"""

"""Who may send what to the filing service (003 §5 (三); F-01, F-14, F-15, F-16).

A filing is registered by the insured region's agency, or its province or the national level
(F-01: the insured place files its insureds, 000 第四条; the national service platform and the
provincial platforms are filing channels too, 003 二(一) "国家医保服务平台 APP … 或参保地经办机构
窗口", under 000 第四条 统一管理、分级负责). The other commands name only the person: that the
sender speaks for the insured region of the filings the command acts on — the same three levels
— is checked against the stored filings (``domain/authority.py``; a person-wide suspension,
resumption or termination: every live filing).

Where a refusal is answered: a refusal for authority (this table, the stored-filings check, and
the runtime's clock skew) goes to the sender on ``party.refused.v1`` (``CommandRefused``, keyed by
the sender's code, reason UNAUTHORIZED / CLOCK_SKEW), nothing stored; what the filing rules refuse
goes on ``filing.refused.v1`` (``FilingRefused``). One channel for "you may not", for every service:
the sender reads its own refusals without being told about the person's filings, and the
FilingRefused reasons stay what they are (a new value would break ``filing.refused.v1`` readers).

A person acts through a channel (000 第九条 "国家医保服务平台APP、国家异地就医备案小程序…"; 003 二(一)):
a registry party of kind ``channel`` may apply, change, cancel and deliver proofs, only for the person
whose authentication it carries (``runtime.authority.person_channel``), only online, and — for the
commands that name a stored filing — only for a filing of an insured region it serves. Decisions,
suspensions, resumptions and terminations stay the agencies' (F-13, F-14)."""

from __future__ import annotations

from runtime.authority import AuthorityTable, Rule, agency_for, any_agency, person_channel, service


def _stored(rule: str) -> Rule:
    """Any agency passes the table; the stored filings decide (``domain/authority.py``)."""
    return Rule(
        "the agency of the insured region of the filings acted on, or its province or the national "
        f"level (checked on the stored filings; rule {rule})",
        any_agency(rule).check,
    )


def _by_person(rule: str) -> Rule:
    """An agency (the stored filings decide) or a channel for the person it authenticated (it must serve
    the insured region of the filing acted on: checked on the stored filings too)."""
    channel = person_channel(rule=rule)
    return _stored(rule) | Rule(f"{channel.who}, serving the filing's insured region", channel.check)


AUTHORITY = AuthorityTable(
    "filing",
    {
        "filing.register.v1": agency_for("insured_region", rule="F-01")
        | person_channel(rule="F-01", region_field="insured_region", online_field="channel"),
        "filing.change.v1": _by_person("F-14"),
        "filing.suspend.v1": _stored("F-14"),
        "filing.resume.v1": _stored("F-14"),
        "filing.cancel.v1": _by_person("F-08"),
        "filing.deliver-proof.v1": _by_person("F-10"),
        "filing.terminate.v1": _stored("F-14"),
        "filing.decide.v1": _stored("F-13"),
        "filing.deadline-due.v1": service("filing"),
        "prepayment.sanction.v1": service("prepayment"),
    },
)

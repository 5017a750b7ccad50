"""Finding things (S-05..S-07, F-15, M-03): a person's settlements by ID number, date, hospital and
medical type, each opening its slip; a person's filings by category, state and the days in force; the
prepayment ledger in words; every list paged and downloadable (CSV with a BOM, XLSX).

The ID number is typed into a POST form and travels sealed to the answering service
(``runtime.query.seal_person``), so it is in no URL, neither the console's nor the service's; the pages
that list a person's items therefore page and download by POST too, the number carried in the form."""

from __future__ import annotations

import re
from datetime import date

from starlette.requests import Request
from starlette.responses import Response

from contracts.filing import FilingStatus
from contracts.values import FilingCategory, MedicalType
from runtime.query import seal_person
from services.console.backend import QueryFailed
from services.console.pages.common import download, own_region, refused_page
from services.console.pages.regions import region_choices
from services.console.users import Session

MEDICAL_ZH = {
    MedicalType.GENERAL_OUTPATIENT.value: "普通门诊",
    MedicalType.CHRONIC_OUTPATIENT.value: "门诊慢特病",
    MedicalType.INPATIENT.value: "住院",
    MedicalType.PHARMACY.value: "药店购药",
}
CATEGORY_ZH = {
    FilingCategory.RESETTLED_RETIREE.value: "异地安置退休人员",
    FilingCategory.LONG_TERM_RESIDENT.value: "异地长期居住人员",
    FilingCategory.POSTED_WORKER.value: "常驻异地工作人员",
    FilingCategory.REFERRAL.value: "异地转诊人员",
    FilingCategory.EMERGENCY.value: "异地急诊抢救人员",
    FilingCategory.OTHER_TEMPORARY.value: "其他临时外出就医人员",
}
FILING_STATES = [s.value for s in FilingStatus]
SIZES = (10, 20, 50, 100)
FORMATS = ("csv", "xlsx")


def _clean(form, names: tuple[str, ...]) -> dict[str, str]:
    return {k: str(form.get(k, "")).strip()[:40] for k in names}


def _dates_ok(fields: dict[str, str]) -> str | None:
    for name in ("from", "to"):
        if fields.get(name):
            try:
                date.fromisoformat(fields[name])
            except ValueError:
                return "日期格式应为 年-月-日"
    return None


def _page(form) -> tuple[str, str]:
    page, size = str(form.get("page", "1")), str(form.get("size", "20"))
    return (page if page.isdigit() and int(page) >= 1 else "1"), (size if size in map(str, SIZES) else "20")


def institutions(console, session: Session) -> list[tuple[str, str]]:
    """The hospitals of the regions the agency oversees, for the hospital select (the registry's)."""
    from contracts.parties import Institution

    return sorted(
        (
            (p.code, p.name)
            for p in console.parties.parties.values()
            if isinstance(p, Institution) and console.parties.speaks_for(session.user.agency, str(p.region))
        ),
        key=lambda c: c[0],
    )


# ---------------------------------------------------------------- a person's settlements
SETTLEMENT_FIELDS = ("person_id", "from", "to", "institution", "medical_type")


async def settlements_form(console, request: Request, session: Session) -> Response:
    return console.render(
        request,
        "find_settlements.html",
        form={},
        found=None,
        error=None,
        institutions=institutions(console, session),
        medical=MEDICAL_ZH,
        sizes=SIZES,
    )


async def settlements_find(console, request: Request, session: Session) -> Response:
    """A page of the person's settlements this agency may see, or (``format``) all of them as a file."""
    form = request.state.form
    fields = _clean(form, SETTLEMENT_FIELDS)
    page, size = _page(form)
    fmt = str(form.get("format", ""))
    ctx = dict(form=fields, institutions=institutions(console, session), medical=MEDICAL_ZH, sizes=SIZES)
    if (bad := _dates_ok(fields)) or (fields["medical_type"] and fields["medical_type"] not in MEDICAL_ZH):
        return console.render(
            request, "find_settlements.html", status=400, found=None, error=bad or "医疗类别无效", **ctx
        )
    try:
        sealed = seal_person(console.parties, "settlement", fields["person_id"])
    except ValueError as exc:
        return console.render(request, "find_settlements.html", status=400, found=None, error=str(exc), **ctx)
    params = {
        "person": sealed,
        "from": fields["from"] or None,
        "to": fields["to"] or None,
        "institution": fields["institution"] or None,
        "medical_type": fields["medical_type"] or None,
    }
    if fmt in FORMATS:
        answer = await console.reader.get(
            "settlement", session.user.agency, "/settlement/settlements", format=fmt, **params
        )
        return download(console, request, answer)
    try:
        found = await console.reader.get_json(
            "settlement", session.user.agency, "/settlement/settlements", page=page, size=size, **params
        )
    except QueryFailed as failed:
        return console.render(
            request,
            "find_settlements.html",
            status=failed.answer.status,
            found=None,
            error=failed.answer.message,
            **ctx,
        )
    return console.render(
        request,
        "find_settlements.html",
        found=found,
        size=size,
        error=None if found else "没有本机构可见的此人结算记录",
        **ctx,
    )


# ---------------------------------------------------------------- a person's filings
FILING_FIELDS = ("person_id", "category", "status", "from", "to")


async def filings_form(console, request: Request, session: Session) -> Response:
    return console.render(
        request,
        "find_filings.html",
        form={},
        found=None,
        error=None,
        categories=CATEGORY_ZH,
        states=FILING_STATES,
        sizes=SIZES,
    )


async def filings_find(console, request: Request, session: Session) -> Response:
    form = request.state.form
    fields = _clean(form, FILING_FIELDS)
    page, size = _page(form)
    fmt = str(form.get("format", ""))
    ctx = dict(form=fields, categories=CATEGORY_ZH, states=FILING_STATES, sizes=SIZES)
    if (
        (bad := _dates_ok(fields))
        or (fields["category"] and fields["category"] not in CATEGORY_ZH)
        or (fields["status"] and fields["status"] not in FILING_STATES)
    ):
        return console.render(
            request, "find_filings.html", status=400, found=None, error=bad or "类别或状态无效", **ctx
        )
    try:
        sealed = seal_person(console.parties, "filing", fields["person_id"])
    except ValueError as exc:
        return console.render(request, "find_filings.html", status=400, found=None, error=str(exc), **ctx)
    params = {
        "person": sealed,
        "category": fields["category"] or None,
        "status": fields["status"] or None,
        "from": fields["from"] or None,
        "to": fields["to"] or None,
    }
    if fmt in FORMATS:
        return download(
            console,
            request,
            await console.reader.get("filing", session.user.agency, "/filing/filings", format=fmt, **params),
        )
    try:
        found = await console.reader.get_json(
            "filing", session.user.agency, "/filing/filings", page=page, size=size, **params
        )
    except QueryFailed as failed:
        return console.render(
            request, "find_filings.html", status=failed.answer.status, found=None, error=failed.answer.message, **ctx
        )
    return console.render(
        request, "find_filings.html", found=found, size=size, error=None if found else "没有本机构可见的此人备案", **ctx
    )


# ---------------------------------------------------------------- the prepayment ledger
async def ledger(console, request: Request, session: Session) -> Response:
    """The prepayment ledger of a region, newest first, a page at a time, in words (M-03)."""
    q = request.query_params
    region = q.get("region") or own_region(console, session)
    scope = q.get("scope", "cross_province")
    page = q.get("page", "1") if q.get("page", "1").isdigit() else "1"
    size = q.get("size", "50") if q.get("size", "50") in map(str, SIZES) else "50"
    choices = region_choices(console.parties, session.user.agency)
    if region and not re.fullmatch(r"\d{6}", region) or scope not in ("cross_province", "intra_province"):
        return console.render(request, "error.html", status=400, title="查询有误", message="地区或范围无效")
    found = None
    if region:
        try:
            found = await console.reader.get_json(
                "prepayment",
                session.user.agency,
                "/prepayment/movements",
                region=region,
                scope=scope,
                page=page,
                size=size,
            )
        except QueryFailed as failed:
            return refused_page(console, request, failed)
    return console.render(
        request, "ledger.html", region=region, scope=scope, found=found, size=size, choices=choices, sizes=SIZES
    )


async def ledger_download(console, request: Request, session: Session) -> Response:
    q = request.query_params
    fmt = q.get("format", "xlsx")
    if fmt not in FORMATS or not re.fullmatch(r"\d{6}", q.get("region", "")):
        return console.render(request, "error.html", status=400, title="无法下载", message="地区或格式无效")
    answer = await console.reader.get(
        "prepayment",
        session.user.agency,
        "/prepayment/movements",
        region=q.get("region"),
        scope=q.get("scope", "cross_province"),
        format=fmt,
    )
    return download(console, request, answer)

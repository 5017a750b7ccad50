"""The filing lookup (F-15) and the slip: whether a person is filed for a place on a date, and the
printable settlement slip (附件13), the ID number sealed for the service that answers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from contracts.values import SHANGHAI
from services.console.backend import QueryFailed
from services.console.users import Session


async def filing_form(console, request: Request, session: Session) -> Response:
    return console.render(request, "filing.html", result=None, error=None, form={})


async def filing_lookup(console, request: Request, session: Session) -> Response:
    """F-15: is the person filed for this place on this date? The ID number travels sealed to the
    filing service in the query (``services/filing/query.py``), never in a URL in clear; the form
    is a POST, so it is not in the console's URLs either."""
    form = request.state.form
    person, region, on = (str(form.get(k, "")).strip() for k in ("person_id", "region", "on"))
    from runtime.query import seal_person

    try:
        sealed = seal_person(console.parties, "filing", person)
        if region:  # filed for this place on this date (today unless given)?
            on = on or console.clock.now().astimezone(SHANGHAI).date().isoformat()
            result = await console.reader.get_json(
                "filing", session.user.agency, "/filing/status", person=sealed, region=region, on=on
            )
        else:  # every filing this agency may see
            result = await console.reader.get_json("filing", session.user.agency, "/filing/filings", person=sealed)
    except ValueError as exc:
        return console.render(request, "filing.html", status=400, result=None, error=str(exc), form=form)
    except QueryFailed as failed:
        return console.render(
            request,
            "filing.html",
            status=failed.answer.status,
            result=None,
            error=failed.answer.message,
            form={"region": region, "on": on},
        )
    return console.render(
        request,
        "filing.html",
        result=result,
        error=None if result else "没有可见的备案记录",
        form={"region": region, "on": on},
    )


async def slip_form(console, request: Request, session: Session) -> Response:
    return console.render(request, "slip_form.html", error=None)


async def slip(console, request: Request, session: Session) -> Response:
    """附件13 湖北省异地就医住院结算单, printable: the settlement's slip as the settlement service holds it."""
    form = request.state.form
    person, settlement = str(form.get("person_id", "")).strip(), str(form.get("settlement_id", "")).strip()
    from runtime.query import seal_person

    try:
        sealed = seal_person(console.parties, "settlement", person)
        found = await console.reader.get_json(
            "settlement", session.user.agency, "/settlement/slip", person=sealed, settlement=settlement
        )
    except ValueError as exc:
        return console.render(request, "slip_form.html", status=400, error=str(exc))
    except QueryFailed as failed:
        return console.render(request, "slip_form.html", status=failed.answer.status, error=failed.answer.message)
    if not found:
        return console.render(request, "slip_form.html", status=404, error="没有本机构可见的这笔结算")
    return console.render(request, "slip.html", slip=found)

"""C-04 query API authentication and authority (003 §5 (三)): a request target signed by a registry agency
(detached JWS, the records' format), fresh (``at`` within the clock-skew limit), for a region it speaks for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runtime.parties import SIGNATURE_HEADER, ParticipantRegistry, init_keys, signer_for
from runtime.query import attachment, header
from services.clearing.query import PATH, QueryRefused, authorize, sign_request

NOW = datetime(2026, 10, 31, 2, 0, tzinfo=UTC)
WUHU = "340200"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    init_keys(root, ["A340200", "A340000", "A000000", "A420100", "H34020200001"])
    return root


@pytest.fixture(scope="module")
def parties(keys):
    return ParticipantRegistry.load(keys)


def ask(keys, parties, code, region=WUHU, *, at=NOW, now=NOW, tamper=None, **extra):
    target, headers = sign_request(signer_for(keys, code), region, "2026-09", at=at, **extra)
    path, _, query = target.partition("?")
    if tamper:
        query = tamper(query)
    return authorize(parties, path, query, headers[SIGNATURE_HEADER], now, 300)


def test_the_agency_its_province_and_the_national_level_may_download(keys, parties):
    for code in ("A340200", "A340000", "A000000"):
        q = ask(keys, parties, code, format="xlsx")
        assert (q.region, q.month, q.scope, q.format, q.agency) == (WUHU, "2026-09", "cross_province", "xlsx", code)
    q = ask(keys, parties, "A340200", format="csv", table="附件15-2")
    assert q.table == "附件15-2"  # the URL-encoded name, decoded


@pytest.mark.parametrize(
    "code, status, words",
    [
        ("A420100", 403, "A420100 does not speak for region 340200"),  # another region's agency
        ("H34020200001", 403, "does not speak for"),  # an institution is no agency
    ],
)
def test_others_are_refused(keys, parties, code, status, words):
    with pytest.raises(QueryRefused, match=words) as exc:
        ask(keys, parties, code)
    assert exc.value.status == status


def test_an_altered_unsigned_or_stale_request_is_refused(keys, parties):
    with pytest.raises(QueryRefused, match="UNAUTHENTICATED") as exc:  # the region changed after signing
        ask(keys, parties, "A420100", tamper=lambda q: q.replace("region=340200", "region=420100"))
    assert exc.value.status == 401
    with pytest.raises(QueryRefused, match="UNAUTHENTICATED"):
        authorize(parties, PATH, "region=340200&month=2026-09", None, NOW, 300)
    with pytest.raises(QueryRefused, match="CLOCK_SKEW") as exc:  # a replay ten minutes later
        ask(keys, parties, "A340200", now=NOW + timedelta(minutes=10))
    assert exc.value.status == 401


def test_bad_queries_are_refused_with_the_reason(keys, parties):
    with pytest.raises(QueryRefused, match="a CSV is one table") as exc:
        ask(keys, parties, "A340200", format="csv")
    assert exc.value.status == 400
    with pytest.raises(QueryRefused, match="format one of"):
        ask(keys, parties, "A340200", format="pdf")
    with pytest.raises(QueryRefused, match="region \\(6 digits\\)"):
        ask(keys, parties, "A340200", region="34")


def test_headers_are_read_case_insensitively():
    scope = {"headers": [(b"Yidi-Signature", b"x.y.z"), (b"host", b"h")]}
    assert header(scope, SIGNATURE_HEADER) == "x.y.z" and header(scope, "missing") is None


def test_a_chinese_file_name_travels_in_latin_1_headers():
    value = attachment("clearing-420000-2026-10-cross_province-14（应收）.csv")
    value.encode("latin-1")
    assert 'filename="clearing-420000-2026-10-cross_province-14____.csv"' in value
    assert "filename*=UTF-8''clearing-420000-2026-10-cross_province-14%EF%BC%88" in value

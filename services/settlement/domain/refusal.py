"""Refusals (S-19): one exception carrying a classified code, a precise message and, when a
fee line is at fault, its number. Handlers turn it into ``SettlementRefused``."""

from __future__ import annotations

from contracts.his_result import PartyRefusalCode
from contracts.settlement_values import RefusalCode

TITLES_ZH: dict[RefusalCode | PartyRefusalCode, str] = {
    RefusalCode.NOT_FILED: "未办理异地就医备案",
    RefusalCode.CHRONIC_DISEASE_MISSING: "未上传门诊慢特病病种",
    RefusalCode.CHRONIC_NOT_COVERED: "参保地未开通该门诊慢特病病种",
    RefusalCode.CHRONIC_NOT_QUALIFIED: "未取得该门诊慢特病待遇资格",
    RefusalCode.ADMISSION_SUSPENDED: "参保地暂停异地就医新入院结算",
    RefusalCode.TRAUMA_COMMITMENT_MISSING: "外伤未签署无第三方责任承诺书",
    RefusalCode.THIRD_PARTY_LIABILITY: "外伤涉及第三方责任，不予直接结算",
    RefusalCode.INVALID_REQUEST: "结算信息不完整或不一致",
    RefusalCode.DATE_IN_FUTURE: "就诊、入院或出院日期晚于当前日期",
    RefusalCode.DATE_TOO_OLD: "就诊、入院或出院日期超出可直接结算的期限",
    RefusalCode.INVALID_FEE_LINE: "费用明细金额有误",
    RefusalCode.CATALOGUE_UNKNOWN_ITEM: "项目未在就医地目录中对照",
    RefusalCode.CATALOGUE_UNAVAILABLE: "无可用的就医地目录",
    RefusalCode.POLICY_UNAVAILABLE: "无可用的参保地待遇政策",
    RefusalCode.BENEFIT_NOT_OFFERED: "参保地未开通该医疗类别的异地结算",
    RefusalCode.HOSPITAL_LEVEL_NOT_COVERED: "参保地政策无该医院等级的待遇标准",
    RefusalCode.INSURED_TIMEOUT_NOT_SETTLED: "参保地响应超时，未结算",
    RefusalCode.DUPLICATE_CONFLICT: "交易流水号重复且内容不一致",
    RefusalCode.SETTLEMENT_NOT_FOUND: "原结算记录不存在",
    RefusalCode.ALREADY_REVERSED: "原结算已撤销或已退费",
    RefusalCode.REFUND_KIND_MISMATCH: "退费类型与原结算不符",
    RefusalCode.REFUND_NOT_OUTPATIENT: "该退费类型仅适用于门诊费用",
    RefusalCode.RECALL_AFTER_MONTHLY_SETTLEMENT: "医疗机构已月结，不予召回重结",
    RefusalCode.RECALL_NOT_LATEST: "不得隔次召回",
    RefusalCode.RESETTLE_AFTER_CLEARING: "经办机构间已清算，不予召回重结",
    # who asks (003 §5 (三), S-15): what the hospital's staff or its HIS vendor must put right
    PartyRefusalCode.NOT_AN_INSTITUTION: "发送方不是定点医药机构",
    PartyRefusalCode.NOT_THIS_INSTITUTION: "机构编码与发送机构不一致",
    PartyRefusalCode.INSTITUTION_NOT_OPENED: "本机构未开通异地就医直接结算",
    PartyRefusalCode.INSTITUTION_REGION_MISMATCH: "就医地与本机构所在统筹区不一致",
    PartyRefusalCode.HOSPITAL_LEVEL_MISMATCH: "医院等级与登记等级不一致",
    PartyRefusalCode.CLOCK_SKEW: "医院系统时间与平台时间相差过大",
    PartyRefusalCode.NOT_YOUR_SETTLEMENT: "非本机构的结算，不能撤销或退费",
}
"""Short Chinese titles shown on the hospital's screen (S-19)."""

MANUAL_CLAIM_CODES = frozenset(
    {
        RefusalCode.NOT_FILED,
        RefusalCode.INSURED_TIMEOUT_NOT_SETTLED,
        RefusalCode.CATALOGUE_UNAVAILABLE,
        RefusalCode.POLICY_UNAVAILABLE,
        RefusalCode.CHRONIC_NOT_QUALIFIED,
        RefusalCode.BENEFIT_NOT_OFFERED,
        RefusalCode.HOSPITAL_LEVEL_NOT_COVERED,
        RefusalCode.DATE_TOO_OLD,
        # the patient pays here in full and claims at home (S-17)
        PartyRefusalCode.INSTITUTION_NOT_OPENED,
    }
)
"""Refusals after which the patient pays and claims manually at the insured place (S-12, S-17)."""


class Refused(Exception):
    """A request the rules do not allow to settle; ``code`` classifies it (S-19)."""

    def __init__(self, code: RefusalCode | PartyRefusalCode, message: str, line_no: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.line_no = line_no

    @property
    def title_zh(self) -> str:
        return TITLES_ZH[self.code]

    @property
    def manual_claim_possible(self) -> bool:
        return self.code in MANUAL_CLAIM_CODES

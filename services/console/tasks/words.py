"""What the 业务办理 forms call things: a Chinese label for every field of every command offered
(by the field's path, rows and nesting without numbers: ``stay.total``, ``lines.settlements``), with a
per-topic word where one field means something else there; the Chinese names of the contracts' enum
values; and the services' refusals (``party.refused.v1``: reason code, rule, English message) in Chinese.
Labels follow the sources' own terms (000 附件, 003, 004); ``tests/unit/console`` checks none is missing."""

from __future__ import annotations

import re

FIELD_ZH: dict[str, str] = {
    "request_id": "业务编号",
    "request_ref": "本机构申请编号",
    "lead_ref": "本机构线索编号",
    "notice_ref": "本机构公告编号",
    "objection_id": "异议编号",
    "deduction_id": "扣款编号",
    "flag_id": "疑点编号（基金监管页所列）",
    "payment_id": "到账凭证号（银行或财政流水号）",
    "interest_id": "利息入账凭证号",
    "person_id": "参保人身份证号码",
    "name": "参保人姓名",
    "sex": "性别",
    "insurance_type": "险种",
    "insured_region": "参保地",
    "treating_region": "就医地",
    "requester_region": "发起地",
    "target_region": "协同对象（经办机构所在地）",
    "region": "统筹区",
    "regions": "参保地（可多选）",
    "category": "备案人员类别",
    "channel": "备案渠道",
    "start_date": "备案开始日期",
    "end_date": "备案结束日期",
    "proofs": "备案材料",
    "personal_commitment": "已签个人承诺书（补齐材料）",
    "retroactive": "补办备案",
    "admission_date": "入院日期",
    "address": "就医地居住地址",
    "phone": "联系电话",
    "filing_id": "备案编号",
    "claim_id": "手工报销申请编号",
    "hospital_level": "医疗机构等级（机构未在目录中时填写）",
    "emergency": "急诊",
    "diagnoses": "诊断",
    "diagnoses.code": "诊断编码（ICD-10）",
    "diagnoses.name": "诊断名称",
    "fee_lines": "费用明细",
    "fee_lines.line_no": "明细序号",
    "fee_lines.item_code": "医保项目编码",
    "fee_lines.item_name": "项目名称",
    "fee_lines.his_class": "医院标注的甲乙丙类（仅供参考）",
    "fee_lines.quantity": "数量",
    "fee_lines.unit_price": "单价（元）",
    "fee_lines.amount": "金额（元）",
    "fee_lines.occurred_on": "费用发生日期",
    "fee_lines.outside_form_no": "外购处方单号",
    "paid_on": "支付日期",
    "total": "医疗费用总额（元）",
    "accident": "异地意外伤害",
    "medical_type": "医疗类别",
    "approve": "审核结论（是：通过）",
    "reason": "原因",
    "disease_code": "门诊慢特病病种代码",
    "qualified": "具备资格（否：撤销资格）",
    "groups": "人员类别",
    "personal_account_balance": "个人账户余额（元）",
    "settlement_id": "结算编号",
    "amounts": "扣款金额",
    "amounts.insurance_type": "险种",
    "amounts.funds": "各项基金扣款金额（元）",
    "corrects": "更正的原扣款编号（仅更正时填写）",
    "clearing_month": "清算月份（年-月）",
    "outcome": "裁定结果",
    "resolution": "裁定意见",
    "obligation": "办理环节",
    "institution_code": "定点医药机构编码",
    "day": "对账日期",
    "lines": "分类汇总",
    "lines.medical_type": "医疗类别",
    "lines.settlements": "结算笔数",
    "lines.funds": "各项基金支付金额（元）",
    "scope": "范围",
    "year": "年度",
    "last_year_monthly_funds": "上年各月基金支付（每行“月份=金额”，可不填）",
    "last_year_quota": "上年额度（元，可不填）",
    "notice_id": "付款通知书编号",
    "amount": "到账金额（元）",
    "as_of": "截至日期",
    "period_start": "计息开始日期",
    "period_end": "计息结束日期",
    "interest": "利息金额（元）",
    "credited_on": "利息入账日期（可不填）",
    "deposit_id": "保证金缴存凭证号",
    "proposal_id": "暂停建议编号",
    "decision": "决定",
    "returned": "返还额度（元）",
    "assessment": "医疗服务协议履行情况",
    "matter": "主要协同事项",
    "problem_type": "问题类型",
    "subject": "线索对象",
    "description": "发现的问题",
    "stay": "住院信息",
    "stay.person_id": "参保人身份证号码",
    "stay.institution": "就医机构编码",
    "stay.admission_no": "住院号",
    "stay.invoice_no": "发票号码",
    "stay.admission_date": "入院日期",
    "stay.discharge_date": "出院日期",
    "stay.total": "费用总额（元）",
    "kind": "公告类别",
    "title": "标题",
    "body": "正文",
    "effective_from": "停机开始时间",
    "effective_until": "停机结束时间",
}
# where a field means something else in one command
TOPIC_FIELD_ZH: dict[tuple[str, str], str] = {
    ("settlement.manual-claim-submit.v1", "start_date"): "入院（就诊）日期",
    ("settlement.manual-claim-submit.v1", "end_date"): "出院（就诊）日期",
    ("settlement.manual-claim-submit.v1", "documents"): "已交材料",
    ("settlement.manual-claim-documents.v1", "documents"): "补交材料",
    ("settlement.manual-claim-verify.v1", "reason"): "核查事由",
    ("settlement.manual-claim-pay.v1", "amount"): "支付金额（元，即审核的基金支付合计）",
    ("filing.change.v1", "treating_region"): "新的就医地",
    ("filing.change.v1", "end_date"): "新的备案结束日期",
    ("filing.change.v1", "reason"): "变更原因",
    ("filing.decide.v1", "reason"): "审核意见",
    ("clearing.record-audit-deduction.v1", "reason"): "扣款原因",
    ("prepayment.report-delay.v1", "reason"): "延迟原因",
    ("prepayment.lodge-deposit.v1", "amount"): "缴存金额（元）",
    ("prepayment.record-return.v1", "notice_id"): "清算通知书编号（反向清算）",
    ("prepayment.decide-sanction.v1", "reason"): "决定理由",
    ("prepayment.lodge-deposit.v1", "region"): "机构所在统筹区",
    ("prepayment.settle-deposit.v1", "region"): "机构所在统筹区",
    ("collab.amend-coinvestigation.v1", "request_id"): "协查申请编号",
    ("collab.withdraw-coinvestigation.v1", "request_id"): "协查申请编号",
    ("clearing.resolve-objection.v1", "objection_id"): "异议编号（清算页所列）",
    ("supervision.review-flag.v1", "decision"): "审核结论",
    ("supervision.review-flag.v1", "note"): "审核意见",
    ("supervision.review-flag.v1", "reviewed_at"): "审核时间",
    ("supervision.decide-appeal.v1", "upheld"): "申诉成立（撤销疑点）",
    ("supervision.decide-appeal.v1", "note"): "处理意见",
    ("supervision.decide-appeal.v1", "decided_at"): "处理时间",
}

ENUM_ZH: dict[str, dict[str, str]] = {
    "InsuranceType": {"310": "职工基本医疗保险", "390": "城乡居民基本医疗保险"},
    "FilingCategory": {
        "resettled_retiree": "异地安置退休人员",
        "long_term_resident": "异地长期居住人员",
        "posted_worker": "常驻异地工作人员",
        "referral": "异地转诊人员",
        "emergency": "异地急诊抢救人员",
        "other_temporary": "其他临时外出就医人员",
    },
    "FilingChannel": {"window": "经办窗口", "online": "国家医保服务平台（线上）", "hospital_desk": "定点医疗机构代办"},
    "ProofKind": {
        "credential": "有效身份凭证（医保电子凭证、身份证或社保卡）",
        "filing_form": "备案表",
        "household_register": "户口簿",
        "residence_proof": "居住证明",
        "posting_letter": "派驻证明",
        "employer_certificate": "单位证明",
        "work_contract": "劳动合同",
        "referral_certificate": "转诊转院证明",
    },
    "InsuredGroup": {"civil_servant": "公务员医疗补助人员", "assistance": "医疗救助对象"},
    "FundCode": {
        "pooling": "统筹基金",
        "personal_account": "个人账户",
        "large_amount": "大额医疗费用补助",
        "civil_servant": "公务员医疗补助",
        "supplementary": "补充医疗保险",
        "disabled_veteran": "伤残军人医疗补助",
        "medical_assistance": "医疗救助",
        "resident_basic": "城乡居民基本医疗保险基金",
        "critical_illness": "大病保险",
        "other": "其他基金",
    },
    "ObjectionOutcome": {"upheld": "异议成立", "dismissed": "异议不成立"},
    "Obligation": {
        "submitted_to_finance": "已报送财政",
        "transferred": "资金已划拨",
        "receipt_fed_back": "到账信息已反馈",
        "institutions_paid": "已拨付定点机构",
    },
    "MedicalType": {
        "general_outpatient": "普通门诊",
        "chronic_outpatient": "门诊慢特病",
        "inpatient": "住院",
        "pharmacy": "定点药店购药",
    },
    "PrepaymentScope": {"cross_province": "跨省", "intra_province": "省内"},
    "HospitalLevel": {"1": "一级", "2": "二级", "3": "三级", "community": "基层医疗机构", "pharmacy": "定点药店"},
    "CatalogueClass": {"A": "甲类", "B": "乙类", "C": "丙类"},
    "ClaimDocument": {
        "invoice": "医院收费票据",
        "inpatient_fee_list": "住院费用清单",
        "outpatient_fee_list": "门急诊费用清单",
        "diagnosis_certificate": "诊断证明",
        "prescription": "处方底方",
        "accident_proof": "意外伤害相关证明材料或承诺书",
        "verification_reply": "就医地经办机构核查函证回复",
    },
    "ProblemType": {
        "filing": "备案类（2个工作日）",
        "system_fault": "系统故障类（1个工作日）",
        "other": "其他类（10个工作日）",
    },
    "LeadSubject": {"insured_person": "参保人", "institution": "定点医药机构"},
    "Sex": {"male": "男", "female": "女", "unknown": "未知"},
    "NoticeKind": {"planned_outage": "系统停机", "policy": "政策通知", "other": "其他"},
    "ClearingSide": {"insured": "参保地（应付）", "treating": "就医地（应收）"},
    "AppealOutcome": {"upheld": "维持扣款", "withdrawn": "撤销扣款"},
    "ReviewDecision": {"dismiss": "排除（非违规）", "lead": "移交参保地核实"},
    "SanctionDecision": {"impose": "暂停该地参保人员异地就医入院登记", "decline": "不暂停"},
}


def field_zh(topic: str, key: str) -> str | None:
    return TOPIC_FIELD_ZH.get((topic, key)) or FIELD_ZH.get(key)


def enum_zh(enum: str, value: str) -> str:
    return ENUM_ZH.get(enum, {}).get(str(value), str(value))


# ------------------------------------------------------------------ refusals in Chinese
REASON_ZH = {
    "UNAUTHORIZED": "无权办理",
    "NOT_ADDRESSED": "不是发给本机构的事项",
    "UNKNOWN_REGION": "区划代码不在名单中",
    "INVALID_MESSAGE": "指令内容不符合接口规范",
    "CLOCK_SKEW": "指令时间与系统时间相差过大",
    "REFUSED_BY_RULE": "业务规则不允许",
    "CONFLICTING_COPY": "同一编号的指令内容不同（请重新发起）",
    "UNAUTHENTICATED": "签名未被接受",
}
# the services' common English sentences, and how a clerk reads them ({0}, {1}… the captured parts)
_MESSAGES: tuple[tuple[str, str], ...] = (
    (r"(?:UNAUTHORIZED: )?(A\d+) does not speak for region (\d{6})", "机构 {0} 不负责区划 {1} 的业务"),
    (r"agency (A\d+) does not handle ([\d ]+?(?: or [\d ]+)*) \(", "机构 {0} 不负责区划 {1} 的业务"),
    (r"only the level above (\d{6}) may do this, not (A\d+)", "只有 {0} 的上一级经办机构可以办理，{1} 不能办理"),
    (r"(\S+) is not an agency", "{0} 不是经办机构"),
    (
        r"an intra-province prepayment is kept by a province agency, not (A\d+)",
        "省内预付金由省级经办机构管理，{0} 不能办理",
    ),
    (r"only the (\S+) service may send this", "只有平台的服务可以发送此类消息"),
    (r"only the (\w+) \((\d{6})\) may ([^;]+); (A\d+) is another side", "只有该事项的{0}（{1}）可以办理，{3} 是另一方"),
    (
        r"this item is addressed to the agencies of ([\d ]+(?:and [\d ]+)*), not to (A\d+)",
        "该事项的双方是 {0}，不涉及 {1}",
    ),
    (r"(A\d+) does not coordinate", "{0} 不是协调这两个统筹区的上级经办机构"),
    (r"there is no request", "没有可提请上级协调的原请求"),
    (r"no clearing ledger (\S+)", "没有这一清算月份与统筹区对的清算台账（{0}）"),
    (r"no prepayment account (\S+)", "没有这个预付金账户（{0}）"),
    (r"clearing period (\S+) is not generated yet", "清算期尚未生成（每月21日生成）"),
    (r"received at .*(after|past|end of)", "已超过确认期限（每月25日24时）"),
    (r"is already confirmed", "该方已确认，不能再提出异议"),
    (r"objection (\S+) is already recorded", "该异议已登记"),
    (r"no objection (\S+)", "没有这条异议，请核对异议编号"),
    (r"has an open objection", "该清算期有未裁定的异议，裁定后才能确认"),
    (r"objection (\S+) was resolved", "该异议已裁定"),
    (r"is not a (?:prepayment |clearing )?notice of account", "付款通知书编号与该预付金账户不符"),
    (r"a delay reason does not excuse an unpaid emergency top-up", "紧急调增未缴付，不能以报备延迟原因免责"),
    (r"interest to share is negative|daily-balance product is negative", "利息金额或日均余额不能为负"),
    (r"asks no top-up at yellow", "该地区现行政策未要求黄色预警时主动追加"),
    (r"is not in warning", "该预付金账户未出现预警，无需主动追加"),
    (r"giving money back", "该清算通知书没有反向清算回款"),
    (r"of the notice's return is outstanding", "到账金额超过该通知书尚未到账的回款"),
    (r"is not a pending proposal", "该暂停建议已撤回（通知书已缴付或已报备）或已作出决定"),
    (r"has no performance deposit in its text", "该统筹区现行政策未规定履约保证金（P-12）"),
    (r"to return is more than the (\S+) lodged", "返还额度超过已缴存的保证金 {0} 元"),
    (r"lodged no deposit", "该机构该年度未缴存履约保证金"),
    (r"is not an institution of (\d{6})", "该机构不是统筹区 {0} 的定点医药机构"),
    (r"interest is not shared: it belongs to the account's opener", "该地区预付金利息归账户开设地所有，不予分配"),
    (r"no prepayment policy text gives", "该日期没有适用的地区政策，不予办理"),
    (r"no region held a prepayment in the period", "该计息期内没有地区存有预付金，无法分配利息"),
    (r"the period (\S+) is empty", "计息期为空，请核对起止日期"),
    (r"(\S+) (?:\S+) is (-?\d+)s from receipt", "指令时间与系统时间相差过大，请刷新后重试"),
    (r"addressed to (A\d+)", "该事项发给机构 {0}，不是本机构"),
    (r"clock skew|too far from", "指令时间与系统时间相差过大，请刷新后重试"),
    (r"not found|unknown (filing|request|lead|notice|objection|settlement)", "未找到对应的业务记录，请核对编号"),
    (r"already", "该事项已办理过，不能重复办理"),
    (r"deadline|too late|after the", "已超过办理时限"),
    (r"does not validate|validation", "指令内容不符合接口规范"),
)


# the words a captured part may be (the roles of a collaboration item)
PART_ZH = {"target": "协同对象", "requester": "发起方", "insured": "参保地", "treating": "就医地"}


def rule_of(refusal: dict) -> str:
    """The rule a refusal names: its own field, else the rule id its message begins with ("C-02: …")."""
    if refusal.get("rule"):
        return str(refusal["rule"])
    found = re.match(r"\s*([A-Z]-\d{2})\b", str(refusal.get("message", "")))
    return found.group(1) if found else ""


def reason_zh(reason: str | None) -> str:
    return REASON_ZH.get(str(reason or ""), "被拒绝")


def message_zh(message: str | None) -> str:
    """The service's English sentence in Chinese where it is one of the common ones, else a Chinese
    summary; the original follows in brackets only as a detail, never alone."""
    text = str(message or "").strip()
    for pattern, words in _MESSAGES:
        found = re.search(pattern, text, re.IGNORECASE)
        if found:
            parts = [PART_ZH.get(g, re.sub(r"\s+(?:or|and)\s+", "、", g or "").strip()) for g in found.groups()]
            return words.format(*parts)
    if re.search(r"[\u4e00-\u9fff]", text):
        return text
    return "服务未接受该指令" if text else ""

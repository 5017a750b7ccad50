"""The directory of networked institutions 定点医疗机构查询: what an institution's registry entry says
beyond its code, name, region and level — its category 类别 and which cross-region direct settlements
it is opened for, each from its date, and its registered address 注册地址.

Sources: 002 第十二条 (the levels choose the institutions, the province audits, the national agency
records and publishes them, and publishes every suspension, cancellation or new service); 000 第十七条
(a city agency opens direct settlement on the provincial platform), 第十八条 (name, registered address,
level, category… are kept up to date) and 第二十一条 (chronic/special outpatient settles only where that
service is opened: 开通门诊慢特病异地就医直接结算的医药机构); 000 附件1 (温馨提示 4) and F-05 (general outpatient and
pharmacy purchases go together, without filing). The entry is kept in the participant registry
(``contracts.parties.Institution``) and changed on ``parties.change.v2``.
"""

from __future__ import annotations

from enum import StrEnum

from contracts.values import MedicalType


class InstitutionCategory(StrEnum):
    """机构类别 (000 第十八条). The hospital kinds are those of national practice (医疗机构管理条例实施细则
    第三条); the primary-care kinds and the retail pharmacy are those 001 五(三) names as brought into direct
    settlement (社区卫生服务中心、乡镇卫生院、中心村卫生室、定点零售药店)."""

    GENERAL_HOSPITAL = "general_hospital"  # 综合医院
    TCM_HOSPITAL = "tcm_hospital"  # 中医医院
    INTEGRATED_HOSPITAL = "integrated_hospital"  # 中西医结合医院
    ETHNIC_MEDICINE_HOSPITAL = "ethnic_medicine_hospital"  # 民族医医院
    SPECIALIST_HOSPITAL = "specialist_hospital"  # 专科医院
    REHABILITATION_HOSPITAL = "rehabilitation_hospital"  # 康复医院
    MATERNAL_CHILD_HEALTH = "maternal_child_health"  # 妇幼保健院
    COMMUNITY_HEALTH_CENTRE = "community_health_centre"  # 社区卫生服务中心
    TOWNSHIP_HEALTH_CENTRE = "township_health_centre"  # 乡镇卫生院
    VILLAGE_CLINIC = "village_clinic"  # 村卫生室
    OUTPATIENT_CLINIC = "outpatient_clinic"  # 门诊部、诊所
    PHARMACY = "pharmacy"  # 定点零售药店

    @property
    def zh(self) -> str:
        return CATEGORY_ZH[self]


CATEGORY_ZH = {
    InstitutionCategory.GENERAL_HOSPITAL: "综合医院",
    InstitutionCategory.TCM_HOSPITAL: "中医医院",
    InstitutionCategory.INTEGRATED_HOSPITAL: "中西医结合医院",
    InstitutionCategory.ETHNIC_MEDICINE_HOSPITAL: "民族医医院",
    InstitutionCategory.SPECIALIST_HOSPITAL: "专科医院",
    InstitutionCategory.REHABILITATION_HOSPITAL: "康复医院",
    InstitutionCategory.MATERNAL_CHILD_HEALTH: "妇幼保健院",
    InstitutionCategory.COMMUNITY_HEALTH_CENTRE: "社区卫生服务中心",
    InstitutionCategory.TOWNSHIP_HEALTH_CENTRE: "乡镇卫生院",
    InstitutionCategory.VILLAGE_CLINIC: "村卫生室",
    InstitutionCategory.OUTPATIENT_CLINIC: "门诊部、诊所",
    InstitutionCategory.PHARMACY: "定点零售药店",
}


class SettlementKind(StrEnum):
    """A cross-region direct settlement an institution is opened for 开通 (002 第十二条: 新增医保服务):
    inpatient 住院, general outpatient 普通门诊 (pharmacy purchases 药店购药 included) and
    chronic/special outpatient 门诊慢特病 (000 第二十一条)."""

    INPATIENT = "inpatient"
    OUTPATIENT = "outpatient"
    CHRONIC = "chronic"

    @classmethod
    def of(cls, medical_type: MedicalType | str) -> SettlementKind:
        """The settlement a visit of ``medical_type`` 医疗类别 needs the institution opened for."""
        return _OF_MEDICAL_TYPE[MedicalType(medical_type)]

    @property
    def zh(self) -> str:
        return KIND_ZH[self]

    @property
    def rule(self) -> str:
        """The rule an institution not opened for this settlement is refused under."""
        return _OPENING_RULE[self]


KIND_ZH = {
    SettlementKind.INPATIENT: "住院",
    SettlementKind.OUTPATIENT: "普通门诊",
    SettlementKind.CHRONIC: "门诊慢特病",
}
_OF_MEDICAL_TYPE = {
    MedicalType.INPATIENT: SettlementKind.INPATIENT,
    MedicalType.GENERAL_OUTPATIENT: SettlementKind.OUTPATIENT,
    MedicalType.PHARMACY: SettlementKind.OUTPATIENT,  # 000 附件1 温馨提示 4: 普通门诊就诊和药店购药
    MedicalType.CHRONIC_OUTPATIENT: SettlementKind.CHRONIC,
}
# Chronic/special outpatient has its rule (S-13, with 000 第二十一条); that only an institution opened for
# a settlement may settle it directly is the registry's own rule for the other two (RULES.md §0
# "institution": only one opened 异地联网 settles directly; 000 第十七条 opens it per institution).
_OPENING_RULE = {
    SettlementKind.INPATIENT: "000 第十七条",
    SettlementKind.OUTPATIENT: "000 第十七条",
    SettlementKind.CHRONIC: "S-13",
}

PHARMACY_KINDS = (SettlementKind.OUTPATIENT, SettlementKind.CHRONIC)
"""What a pharmacy can be opened for: no ward, so no inpatient settlement."""

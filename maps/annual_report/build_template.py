"""Build the packaged report template ``templates/社区设施体检报告.docx``.

Run ``python -m maps.annual_report.build_template`` (or give another path as the argument).

The template is an ordinary Word document with docxtpl (Jinja) fields, so a county can open it in Word or WPS,
change the wording, headings, fonts and order of the chapters, and use it with ``geo-service report --template``.
The fields it may use are listed in :mod:`maps.annual_report.context`; tables repeat their rows with
``{%tr for r in art3.streets %}`` … ``{%tr endfor %}`` rows, chapter maps are ``{{ art3.map }}`` alone in a paragraph.
"""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from .params import DEFAULT_TEMPLATE

BODY_FONT, HEADING_FONT, LATIN_FONT = "宋体", "黑体", "Times New Roman"


def _fonts(style, east_asia: str, size_pt: float | None = None, bold: bool | None = None) -> None:
    style.font.name = LATIN_FONT
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), east_asia)
    fonts.set(qn("w:ascii"), LATIN_FONT)
    fonts.set(qn("w:hAnsi"), LATIN_FONT)
    if size_pt:
        style.font.size = Pt(size_pt)
    if bold is not None:
        style.font.bold = bold
    style.font.color.rgb = RGBColor(0, 0, 0)


def _setup(doc) -> None:
    sec = doc.sections[0]
    sec.orientation = WD_ORIENT.PORTRAIT
    sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
    sec.left_margin = sec.right_margin = Cm(2.5)
    sec.top_margin = sec.bottom_margin = Cm(2.5)
    _fonts(doc.styles["Normal"], BODY_FONT, 12)
    doc.styles["Normal"].paragraph_format.line_spacing = 1.3
    doc.styles["Normal"].paragraph_format.space_after = Pt(4)
    for name, size in (("Title", 26), ("Heading 1", 16), ("Heading 2", 14), ("Heading 3", 12)):
        _fonts(doc.styles[name], HEADING_FONT, size, bold=True)
        doc.styles[name].paragraph_format.space_before = Pt(12)
        doc.styles[name].paragraph_format.space_after = Pt(6)
    footer = sec.footer.paragraphs[0]
    footer.text = "{{ city_name }}社区设施体检报告（{{ year }}年度）"
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER


def para(doc, text: str = "", *, center: bool = False, size: float | None = None, style: str | None = None):
    p = doc.add_paragraph(style=style)
    if text:
        run = p.add_run(text)
        if size:
            run.font.size = Pt(size)
    if center:
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    else:
        p.paragraph_format.first_line_indent = Pt(24)
    return p


def _cell(cell, text: str, *, bold: bool = False, shade: str | None = None) -> None:
    cell.text = ""
    run = cell.paragraphs[0].add_run(text)
    run.font.size = Pt(9)
    run.bold = bold
    cell.paragraphs[0].paragraph_format.first_line_indent = Pt(0)
    cell.paragraphs[0].paragraph_format.space_after = Pt(0)
    cell.paragraphs[0].paragraph_format.line_spacing = 1.0
    if shade:
        shd = OxmlElement("w:shd")
        shd.set(qn("w:val"), "clear")
        shd.set(qn("w:fill"), shade)
        cell._tc.get_or_add_tcPr().append(shd)


def loop_table(doc, headers: list[str], loop: str, fields: list[str], widths_cm: list[float], var: str = "r") -> None:
    """A table: a header row (repeated on each page), then one row per item of ``loop`` (docxtpl ``{%tr %}``);
    column widths in cm (the text block is 16 cm wide)."""
    t = doc.add_table(rows=4, cols=len(headers))
    t.style = doc.styles["Table Grid"]
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    t.autofit = False
    for row in t.rows:
        for cell, w in zip(row.cells, widths_cm):
            cell.width = Cm(w)
    for col, w in zip(t._tbl.tblGrid.findall(qn("w:gridCol")), widths_cm):  # LibreOffice reads the grid
        col.set(qn("w:w"), str(int(Cm(w).twips)))
    for i, h in enumerate(headers):
        _cell(t.rows[0].cells[i], h, bold=True, shade="D9D9D9")
    trpr = t.rows[0]._tr.get_or_add_trPr()
    hdr = OxmlElement("w:tblHeader")
    hdr.set(qn("w:val"), "true")
    trpr.append(hdr)
    _cell(t.rows[1].cells[0], f"{{%tr for {var} in {loop} %}}")
    for i, f in enumerate(fields):
        _cell(t.rows[2].cells[i], f"{{{{ {var}.{f} }}}}")
    _cell(t.rows[3].cells[0], "{%tr endfor %}")
    doc.add_paragraph().paragraph_format.space_after = Pt(2)


def image(doc, field: str, caption: str) -> None:
    para(doc, f"{{{{ {field} }}}}", center=True)
    para(doc, caption, center=True, size=10)


def title_and_summary(doc) -> None:
    para(doc, "{{ city_name }}", center=True, size=22).paragraph_format.space_before = Pt(160)
    p = doc.add_paragraph("社区设施体检报告", style="Title")
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    para(doc, "（{{ year }}年度）", center=True, size=18)
    p = para(doc, "依据《德阳市社区治理条例》第三条、第十二条、第十五条、第十八条", center=True, size=12)
    p.paragraph_format.space_before = Pt(200)
    para(doc, "{{ report_date }}", center=True, size=14)
    para(doc, "{{ synthetic_note }}", center=True, size=10)
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    doc.add_heading("摘要", level=1)
    para(
        doc,
        "本报告对{{ city_name }}{{ year }}年度社区设施进行体检。全区现有街道 {{ totals.streets }} 个、社区 "
        "{{ totals.communities }} 个（社区划分方案「{{ plan_name }}」），常住人口 {{ totals.residents }} 人、"
        "{{ totals.households }} 户，分布于 {{ totals.units }} 个人口单元。各项数据均取自本系统对现状图层的分析结果"
        "（生活圈覆盖分析第 {{ totals.coverage_run }} 次运行，设施与避难场所审计第 {{ totals.audit_run }} 次运行）。",
    )
    para(
        doc,
        "社区规模（第三条）：{{ art3.communities }} 个社区中 {{ art3.in_band }} 个（{{ art3.in_band_share }}）户数在 "
        "{{ art3.band }} 户范围内，{{ art3.below }} 个偏少"
        "，{{ art3.above }} 个偏多；{% if art3.workers_known %}社区工作者现有 {{ art3.workers }} 人"
        "{% if art3.workers_missing %}（{{ art3.workers_missing }} 个社区未录入）{% endif %}"
        "{% else %}社区工作者人数未录入{% endif %}，"
        "按每万人 {{ art3.workers_per_10000 }} 人应配 {{ art3.workers_needed }} 人。",
    )
    para(
        doc,
        "生活圈（第十二条）：15分钟完整生活圈覆盖 {{ art12.rate_15min }} 的居民（目标 {{ art12.target_15min }}，"
        "达标：{{ art12.meets_target }}）；步行可达率最低的设施为{{ art12.weakest }}。",
    )
    para(
        doc,
        "避难场所（第十五条）：需紧急避难 {{ art15.demand }} 人，步行 {{ art15.walk_limit_m }} 米内可安置 "
        "{{ art15.placed }} 人，无法安置 {{ art15.unplaced }} 人（{{ art15.unplaced_share }}）；固定避难场所容纳比例 "
        "{{ art15.fixed_share }}（下限 {{ art15.fixed_min_share }}）。",
    )
    para(
        doc,
        "服务用房（第十八条）：{{ art18.without_office }} 个社区"
        "无固定办公场所，{{ art18.with_space_gap }} 个社区综合服务"
        "设施面积不足，合计缺口 {{ art18.gap_m2 }} m²，其中 {{ art18.closable }} 个可由规划用地补足。",
    )


def chapter_art3(doc) -> None:
    doc.add_heading("一、社区规模与户数（条例第三条）", level=1)
    para(
        doc,
        "按户数范围 {{ art3.band }} 户评估现行社区划分。{{ art3.communities }}"
        " 个社区户数在 {{ art3.households_min }} 至 "
        "{{ art3.households_max }} 户之间，平均 {{ art3.households_mean }}"
        " 户；{{ art3.in_band }} 个（{{ art3.in_band_share }}）"
        "在范围内，{{ art3.below }} 个偏少、{{ art3.above }} 个偏多；{{ art3.contiguous }} 个社区辖区连续。"
        "{% if art3.workers_known %}{{ art3.workers_short }} 个社区社区工作者不足，{% endif %}"
        "{{ art3.no_station }} 个社区5分钟步行范围内没有社区综合服务站。",
    )
    doc.add_heading("各街道社区户数", level=2)
    loop_table(
        doc,
        ["街道", "社区数", "户数", "常住人口", "户数达标", "偏少", "偏多", "社区户数范围", "社区工作者", "应配"],
        "art3.streets",
        ["street", "communities", "households", "residents", "in_band", "below", "above", "range", "workers"]
        + ["workers_needed"],
        [2.0, 1.2, 1.6, 1.8, 1.3, 1.1, 1.1, 2.3, 1.6, 1.2],
    )
    image(doc, "art3.map", "图1  社区户数与户数范围（{{ plan_name }}）")


def chapter_art12(doc) -> None:
    doc.add_heading("二、社区生活圈覆盖（条例第十二条）", level=1)
    para(
        doc,
        "按步行速度 {{ art12.walking_speed }} 米/秒，在步行网络上计算"
        " {{ art12.units }} 个人口单元（{{ art12.residents }} 人）"
        "到最近设施的步行距离。完整生活圈指该层级应配的全部设施类别都在步行范围内。15分钟完整生活圈覆盖率 "
        "{{ art12.rate_15min }}，目标 {{ art12.target_15min }}。覆盖率最低的设施：{{ art12.weakest }}；最高的："
        "{{ art12.strongest }}。",
    )
    doc.add_heading("各层级完整生活圈覆盖率", level=2)
    loop_table(
        doc,
        ["生活圈", "步行距离（米）", "应配设施类别", "步行覆盖率", "直线覆盖率"],
        "art12.levels",
        ["level", "walk_m", "required", "rate", "straight_rate"],
        [2.5, 3, 3, 3, 3],
    )
    doc.add_heading("各类设施覆盖率", level=2)
    loop_table(
        doc,
        ["设施类别", "生活圈", "服务距离（米）", "设施数", "步行覆盖率", "直线覆盖率"],
        "art12.categories",
        ["category", "level", "threshold_m", "facilities", "rate", "straight_rate"],
        [4.5, 2, 2.5, 1.8, 2.5, 2.5],
    )
    doc.add_heading("各街道生活圈覆盖率", level=2)
    loop_table(
        doc,
        ["街道", "常住人口", "5分钟完整", "10分钟完整", "15分钟完整", "5分钟最弱设施", "其覆盖率"],
        "art12.streets",
        ["street", "residents", "rate_5min", "rate_10min", "rate_15min", "weakest", "weakest_rate"],
        [2.2, 2.0, 2.2, 2.2, 2.2, 3.4, 1.8],
    )
    image(doc, "art12.map", "图2  5分钟生活圈设施步行可达情况")


def chapter_art15(doc) -> None:
    doc.add_heading("三、应急避难场所（条例第十五条）", level=1)
    para(
        doc,
        "现有避难场所 {{ art15.shelters }} 处。紧急避难按步行"
        " {{ art15.walk_limit_m }} 米以内、不超过场所容量进行最优分配："
        "需安置 {{ art15.demand }} 人，可安置 {{ art15.placed }} 人，无法安置 {{ art15.unplaced }} 人"
        "（{{ art15.unplaced_share }}）；若居民都去最近的场所，无法安置 {{ art15.unplaced_nearest_first }} 人，"
        "{{ art15.over_capacity }} 处场所超容量。{{ art15.units_without_shelter }} 个人口单元步行范围内没有避难场所"
        "{% if art15.placed_any %}，已安置居民平均步行 {{ art15.mean_walk_m }} 米{% endif %}。计入规划避难场所和可"
        "用场地后，无法安置 {{ art15.unplaced_with_plan }} 人。",
    )
    para(
        doc,
        "固定避难场所容纳人口比例为 {{ art15.fixed_share }}（下限 {{ art15.fixed_min_share }}），"
        "{{ art15.streets_below_fixed_share }} 个街道未达标；中心避难场所"
        " {{ art15.central }} 处（需要 {{ art15.central_needed }} 处）。"
        "{{ art15.in_hazard }} 处避难场所位于灾害风险区（活动断裂带避让带、洪涝淹没区、地质灾害隐患点影响范围）内。",
    )
    doc.add_heading("各街道避难场所", level=2)
    loop_table(
        doc,
        ["街道", "场所数", "容量（人）", "需安置（人）", "无法安置（人）", "无法安置比例", "固定避难容纳比例", "达标"],
        "art15.streets",
        ["street", "shelters", "capacity", "demand", "unplaced", "unplaced_share", "fixed_share", "fixed_ok"],
        [2.0, 1.5, 2.0, 2.0, 2.2, 2.0, 2.4, 1.2],
    )
    doc.add_heading("中心避难场所", level=2)
    loop_table(
        doc,
        ["名称", "服务人口（人）", "服务建成区（km²）", "符合规范"],
        "art15.central_rows",
        ["name", "residents", "km2", "ok"],
        [5, 3.5, 4, 2.5],
    )
    image(doc, "art15.map", "图3  避难场所与无法就近安置的居民")


def chapter_art18(doc) -> None:
    doc.add_heading("四、社区服务用房与办公场所（条例第十八条）", level=1)
    para(
        doc,
        "按每百户 {{ art18.floor_per_100 }} m² 核算社区综合服务设施面积。{{ art18.communities }} 个社区中 "
        "{{ art18.without_office }} 个无固定办公场所"
        "，{{ art18.with_space_gap }} 个面积不足，合计缺口 {{ art18.gap_m2 }} m²；"
        "其中 {{ art18.closable }} 个可由规划社区服务设施用地补足，{{ art18.partly_closable }} 个可部分补足，"
        "{{ art18.not_closable }} 个附近无可用地块。{{ art18.below_minimum }} 处设施低于最小建筑面积，"
        "{{ art18.at_risk }} 处现状设施所在用地规划为他用，{{ art18.planned_not_built }} 处规划或在建设施尚未建成；"
        "{{ art18.developments }} 个新建住宅项目中"
        " {{ art18.developments_owing }} 个欠配设施，合计 {{ art18.owed_m2 }} m²。",
    )
    para(
        doc,
        "缺口补足方案（条例第十八条第二、三款）：{{ art18.gap_needs }} 项需求共 {{ art18.gap_need_m2 }} m²，"
        "利用闲置资产和可购置、租赁、调剂置换、改建扩建的空间 {{ art18.gap_spaces }} 处"
        "可补足 {{ art18.gap_closed_m2 }} m²，"
        "费用约 {{ art18.gap_cost_yuan }} 元（租金按规定年限计入）；{{ art18.gap_closed }} 个社区可全部补足，"
        "{{ art18.gap_partly }} 个部分补足，{{ art18.gap_open }} 个仍无可用空间。",
    )
    doc.add_heading("各街道服务用房", level=2)
    loop_table(
        doc,
        [
            "街道",
            "社区数",
            "无固定办公场所",
            "面积不足",
            "面积缺口（m²）",
            "用地规划为他用的设施",
            "欠配项目",
            "欠配面积（m²）",
        ],
        "art18.streets",
        ["street", "communities", "without_office", "with_space_gap", "gap_m2", "at_risk", "developments_owing"]
        + ["owed_m2"],
        [2.0, 1.4, 2.2, 1.6, 2.2, 2.4, 1.8, 2.2],
    )
    doc.add_heading("问题最多的社区", level=2)
    loop_table(
        doc,
        ["排名", "社区", "街道", "问题数", "问题"],
        "art18.worst",
        ["rank", "name", "street", "issues", "issues_zh"],
        [1.2, 2.4, 2.2, 1.4, 8.8],
    )
    image(doc, "art18.map", "图4  社区服务用房与办公场所体检问题")


def chapter_streets(doc) -> None:
    doc.add_heading("五、各街道分述", level=1)
    para(doc, "以下按街道列出各社区的户数、服务站覆盖、办公场所、服务面积缺口和无法安置的居民。")
    para(doc, "{%p for s in street_sections %}")
    doc.add_heading("{{ s.name }}（{{ s.count }} 个社区）", level=2)
    loop_table(
        doc,
        [
            "社区",
            "社区代码",
            "户数",
            "户数范围",
            "5分钟服务站覆盖率",
            "固定办公场所",
            "服务面积缺口（m²）",
            "无法安置（人）",
        ],
        "s.communities",
        ["name", "code", "households", "band", "station_rate", "office", "gap_m2", "unplaced"],
        [2.2, 2.8, 1.5, 1.6, 2.2, 1.8, 2.2, 1.7],
        var="c",
    )
    para(doc, "{%p endfor %}")


def chapter_norms(doc) -> None:
    doc.add_heading("附录  规范依据", level=1)
    para(
        doc,
        "本报告的各项判断所依据的规范如下。状态“已核实”指已查阅标准原文或官方文本，“二手来源”指仅见于省级文件或转引，"
        "“未核实”为常用默认值，可由本地规范文件覆盖。{{ norms_override }}",
    )
    loop_table(
        doc,
        ["规范项", "取值", "来源", "状态"],
        "norms",
        ["name", "value", "source", "status"],
        [4.2, 3.8, 5.6, 2.4],
        var="n",
    )


def build(path: Path = DEFAULT_TEMPLATE) -> Path:
    """Write the template to ``path`` (the packaged one by default)."""
    doc = Document()
    _setup(doc)
    title_and_summary(doc)
    chapter_art3(doc)
    chapter_art12(doc)
    chapter_art15(doc)
    chapter_art18(doc)
    chapter_streets(doc)
    chapter_norms(doc)
    doc.core_properties.title = "社区设施体检报告"
    doc.core_properties.author = "geo-service"
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(path)
    return path


if __name__ == "__main__":  # pragma: no cover
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_TEMPLATE))

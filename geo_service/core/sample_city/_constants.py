"""Constants of the synthetic sample city: CRS, names, tunables, cell types, name pools."""

from __future__ import annotations

CENTER_LONLAT: tuple[float, float] = (104.40, 31.13)
METRIC_EPSG = 4544  # CGCS2000 / 3-degree Gauss-Kruger CM 105E
PLAN_NAME = "现状社区划分（示例）"
CITY_NAME = "Deyang sample city (synthetic)"
CITY_NAME_ZH = "德阳示例城区（合成数据，非真实）"
CITY_CODE = "510600"  # parent of the synthetic county (Deyang city)
COUNTY_CODE_BASE = 510699  # synthetic county codes count down from here
RIVER_NAME = "绵远河（示例）"
RAILWAY_NAME = "宝成铁路（示例）"

LAYER_NAMES: tuple[str, ...] = (
    "admin_areas",
    "population_units",
    "communities",
    "facilities",
    "shelters",
    "plan_parcels",
    "developments",
    "roads",
    "barriers",
    "buildings",
    "idle_assets",
    "space_candidates",
    "hazards",
)

# --------------------------------------------------------------------------
# Tunables (scale 1)
# --------------------------------------------------------------------------
BASE_N = 54  # lattice cells per side at scale 1 (about 4.9 km)
MIN_N = 10
CELL_WIDTH_M = (75.0, 105.0)  # width of a lattice cell (a compound), 15 % less in the old centre
ARTERIAL_EVERY = 5  # every 5th lattice line is an arterial (~450 m): super-blocks of 5 x 5 cells
RESIDENTS_PER_SCALE = 600_000
MEAN_HOUSEHOLD_SIZE = 2.6
CELLS_PER_STREET = 240  # -> about 11 streets of 55,000 residents and 1.8 km² at scale 1
COMMUNITY_TARGET_HH = 1_800  # -> about 120 communities at scale 1
WORKERS_PER_10K = 18.0

# deliberate kindergarten gaps: no kindergarten within 300 m of any point of these discs (m)
KG_GAP_R = 350.0
CELL_MARGIN = 115.0  # a point of a cell lies within this distance of the cell centre (m)

# cell types
VOID, RES, PARK, SQUARE, PRIMARY, MIDDLE, COMMERCIAL, GOV, HOSPITAL, SITE = range(10)
RIVER, RAIL = 20, 21

CELL_LAND_USE = {
    RES: ("0701", "城镇住宅用地", "existing"),
    PARK: ("1401", "公园绿地", "existing"),
    SQUARE: ("1403", "广场用地", "existing"),
    PRIMARY: ("080403", "中小学用地（小学）", "existing"),
    MIDDLE: ("080403", "中小学用地（初中）", "existing"),
    COMMERCIAL: ("0901", "商业用地", "existing"),
    GOV: ("0801", "机关团体用地", "existing"),
    HOSPITAL: ("0806", "医疗卫生用地", "existing"),
    SITE: ("0701", "城镇住宅用地（新建住宅项目）", "planned"),
    RIVER: ("17", "陆地水域（河流）", "existing"),
    RAIL: ("1201", "铁路用地", "existing"),
}

# name pools (synthetic place names)
CH_A = list(
    dict.fromkeys(
        "和平安康宁兴华新民乐福泰祥瑞春文明德阳东西南北花桂兰竹松柳梅清泉湖山江龙凤金玉锦光荣建友长庆胜"
        "利红星旌天紫云青碧石高永富丰翠怡嘉惠君雅秀蓝白丽顺吉昌盛鸿运达"
    )
)
CH_B = list(
    dict.fromkeys(
        "苑园林湾庭府城坊里村桥塘岭坝台亭阁井门堰岗溪田坪滩庄营院楼关铺场堂寺河洲堤坡峰湖山泉口渡"
        "港滨邻居苑和安源沟垭荫景境苏都汇"
    )
)
STREET_NAMES = ["旌湖", "文庙", "玉泉", "锦城", "凤鸣", "天池", "石亭", "和新", "泰安", "金山", "长乐", "望江"]
MOUNTAINS = [
    "泰山",
    "华山",
    "庐山",
    "衡山",
    "嵩山",
    "黄山",
    "峨眉",
    "青城",
    "天山",
    "昆仑",
    "祁连",
    "太行",
    "秦岭",
    "武当",
    "龙门",
    "九华",
]
RIVERS = [
    "长江",
    "黄河",
    "岷江",
    "珠江",
    "嘉陵",
    "沱江",
    "涪江",
    "金沙",
    "雅砻",
    "渠江",
    "汉江",
    "淮河",
    "闽江",
    "湘江",
    "赣江",
    "松花",
]
UNIT_SUFFIX = ["小区", "花园", "苑", "家园", "公寓", "新村", "宿舍", "名城", "嘉园", "雅居"]
DEV_SUFFIX = ["新城", "公馆", "华府", "雅苑", "御景", "壹号", "滨江府", "悦府"]
CN_DIGITS = "零一二三四五六七八九"

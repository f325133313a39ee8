"""Word lists for the demo: real provinces with their real prefecture-level cities (GB/T 2260
codes), industries, company-name parts, Chinese names with pinyin, follow-up notes and reasons.

Weights are relative; they skew the demo towards where Chinese SMEs actually are. The long
tables are kept one entry per line or in compact strings, unformatted, to stay readable.
"""

from __future__ import annotations

from typing import NamedTuple


class City(NamedTuple):
    name: str
    division_code: str
    weight: float


class Province(NamedTuple):
    name: str
    weight: float
    region: str  # the sales region (team and pool) that covers it: east, south or north
    cities: tuple[City, ...]


class Industry(NamedTuple):
    name: str
    weight: float
    name_words: tuple[str, ...]  # the middle of a company name: 杭州云帆[网络科技]有限公司
    domain_tags: tuple[str, ...]  # the end of its web domain: yunfan[tech].com
    person_friendly: bool  # individual business owners are common here


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _cities(text: str) -> tuple[City, ...]:
    """``"杭州 330100 5, 宁波 330200 3"``: name, division code and weight of each city."""
    return tuple(
        City(name, code, float(weight))
        for name, code, weight in (item.split() for item in text.split(","))
    )


def _with_pinyin(text: str) -> tuple[tuple[str, str], ...]:
    """``"云yun 帆fan"``: a character followed by its pinyin."""
    return tuple((item[0], item[1:]) for item in text.split())


def _surnames(text: str) -> tuple[tuple[str, str, float], ...]:
    """``"王:wang:71"``: surname, pinyin and relative frequency."""
    return tuple(
        (name, pinyin, float(weight))
        for name, pinyin, weight in (item.split(":") for item in text.split())
    )


# fmt: off
PROVINCES: tuple[Province, ...] = (
    Province("北京", 6, "north", _cities("北京 110100 1")),
    Province("天津", 2, "north", _cities("天津 120100 1")),
    Province("河北", 3, "north", _cities(
        "石家庄 130100 4, 唐山 130200 2, 秦皇岛 130300 1, 邯郸 130400 1, "
        "邢台 130500 1, 保定 130600 2, 张家口 130700 1, 承德 130800 1, "
        "沧州 130900 1, 廊坊 131000 2, 衡水 131100 1"
    )),
    Province("山西", 1, "north", _cities(
        "太原 140100 4, 大同 140200 1, 阳泉 140300 1, 长治 140400 1, 晋城 140500 1, "
        "朔州 140600 1, 晋中 140700 1, 运城 140800 1, 忻州 140900 1, 临汾 141000 1, "
        "吕梁 141100 1"
    )),
    Province("内蒙古", 0.8, "north", _cities(
        "呼和浩特 150100 3, 包头 150200 2, 乌海 150300 1, 赤峰 150400 1, "
        "通辽 150500 1, 鄂尔多斯 150600 2, 呼伦贝尔 150700 1, 巴彦淖尔 150800 1, "
        "乌兰察布 150900 1"
    )),
    Province("辽宁", 2, "north", _cities(
        "沈阳 210100 4, 大连 210200 3, 鞍山 210300 1, 抚顺 210400 1, 本溪 210500 1, "
        "丹东 210600 1, 锦州 210700 1, 营口 210800 1, 阜新 210900 1, 辽阳 211000 1, "
        "盘锦 211100 1, 铁岭 211200 1, 朝阳 211300 1, 葫芦岛 211400 1"
    )),
    Province("吉林", 0.8, "north", _cities(
        "长春 220100 4, 吉林 220200 2, 四平 220300 1, 辽源 220400 1, 通化 220500 1, "
        "白山 220600 1, 松原 220700 1, 白城 220800 1"
    )),
    Province("黑龙江", 1, "north", _cities(
        "哈尔滨 230100 4, 齐齐哈尔 230200 1, 鸡西 230300 1, 鹤岗 230400 1, "
        "双鸭山 230500 1, 大庆 230600 2, 伊春 230700 1, 佳木斯 230800 1, "
        "七台河 230900 1, 牡丹江 231000 1, 黑河 231100 1, 绥化 231200 1"
    )),
    Province("上海", 6, "east", _cities("上海 310100 1")),
    Province("江苏", 10, "east", _cities(
        "南京 320100 4, 无锡 320200 3, 徐州 320300 2, 常州 320400 2, 苏州 320500 5, "
        "南通 320600 2, 连云港 320700 1, 淮安 320800 1, 盐城 320900 1, "
        "扬州 321000 1, 镇江 321100 1, 泰州 321200 1, 宿迁 321300 1"
    )),
    Province("浙江", 10, "east", _cities(
        "杭州 330100 5, 宁波 330200 3, 温州 330300 2, 嘉兴 330400 2, 湖州 330500 1, "
        "绍兴 330600 2, 金华 330700 2, 衢州 330800 1, 舟山 330900 1, 台州 331000 2, "
        "丽水 331100 1"
    )),
    Province("安徽", 3, "east", _cities(
        "合肥 340100 5, 芜湖 340200 2, 蚌埠 340300 1, 淮南 340400 1, "
        "马鞍山 340500 1, 淮北 340600 1, 铜陵 340700 1, 安庆 340800 1, "
        "黄山 341000 1, 滁州 341100 1, 阜阳 341200 1, 宿州 341300 1, 六安 341500 1, "
        "亳州 341600 1, 池州 341700 1, 宣城 341800 1"
    )),
    Province("福建", 4, "east", _cities(
        "福州 350100 4, 厦门 350200 4, 莆田 350300 1, 三明 350400 1, 泉州 350500 3, "
        "漳州 350600 1, 南平 350700 1, 龙岩 350800 1, 宁德 350900 1"
    )),
    Province("江西", 2, "east", _cities(
        "南昌 360100 4, 景德镇 360200 1, 萍乡 360300 1, 九江 360400 1, "
        "新余 360500 1, 鹰潭 360600 1, 赣州 360700 2, 吉安 360800 1, 宜春 360900 1, "
        "抚州 361000 1, 上饶 361100 1"
    )),
    Province("山东", 7, "east", _cities(
        "济南 370100 4, 青岛 370200 4, 淄博 370300 1, 枣庄 370400 1, 东营 370500 1, "
        "烟台 370600 2, 潍坊 370700 2, 济宁 370800 1, 泰安 370900 1, 威海 371000 1, "
        "日照 371100 1, 临沂 371300 2, 德州 371400 1, 聊城 371500 1, 滨州 371600 1, "
        "菏泽 371700 1"
    )),
    Province("河南", 4, "north", _cities(
        "郑州 410100 5, 开封 410200 1, 洛阳 410300 2, 平顶山 410400 1, "
        "安阳 410500 1, 鹤壁 410600 1, 新乡 410700 1, 焦作 410800 1, 濮阳 410900 1, "
        "许昌 411000 1, 漯河 411100 1, 三门峡 411200 1, 南阳 411300 1, "
        "商丘 411400 1, 信阳 411500 1, 周口 411600 1, 驻马店 411700 1"
    )),
    Province("湖北", 4, "north", _cities(
        "武汉 420100 6, 黄石 420200 1, 十堰 420300 1, 宜昌 420500 2, 襄阳 420600 2, "
        "鄂州 420700 1, 荆门 420800 1, 孝感 420900 1, 荆州 421000 1, 黄冈 421100 1, "
        "咸宁 421200 1, 随州 421300 1"
    )),
    Province("湖南", 3, "south", _cities(
        "长沙 430100 5, 株洲 430200 1, 湘潭 430300 1, 衡阳 430400 1, 邵阳 430500 1, "
        "岳阳 430600 1, 常德 430700 1, 张家界 430800 1, 益阳 430900 1, "
        "郴州 431000 1, 永州 431100 1, 怀化 431200 1, 娄底 431300 1"
    )),
    Province("广东", 12, "south", _cities(
        "广州 440100 5, 韶关 440200 1, 深圳 440300 5, 珠海 440400 2, 汕头 440500 1, "
        "佛山 440600 3, 江门 440700 1, 湛江 440800 1, 茂名 440900 1, 肇庆 441200 1, "
        "惠州 441300 2, 梅州 441400 1, 汕尾 441500 1, 河源 441600 1, 阳江 441700 1, "
        "清远 441800 1, 东莞 441900 3, 中山 442000 2, 潮州 445100 1, 揭阳 445200 1, "
        "云浮 445300 1"
    )),
    Province("广西", 1.5, "south", _cities(
        "南宁 450100 4, 柳州 450200 2, 桂林 450300 2, 梧州 450400 1, 北海 450500 1, "
        "防城港 450600 1, 钦州 450700 1, 贵港 450800 1, 玉林 450900 1, "
        "百色 451000 1, 贺州 451100 1, 河池 451200 1, 来宾 451300 1, 崇左 451400 1"
    )),
    Province("海南", 0.6, "south", _cities("海口 460100 3, 三亚 460200 2, 儋州 460400 1")),
    Province("重庆", 2, "south", _cities("重庆 500100 1")),
    Province("四川", 4, "south", _cities(
        "成都 510100 8, 自贡 510300 1, 攀枝花 510400 1, 泸州 510500 1, "
        "德阳 510600 1, 绵阳 510700 2, 广元 510800 1, 遂宁 510900 1, 内江 511000 1, "
        "乐山 511100 1, 南充 511300 1, 眉山 511400 1, 宜宾 511500 1, 广安 511600 1, "
        "达州 511700 1, 雅安 511800 1, 巴中 511900 1, 资阳 512000 1"
    )),
    Province("贵州", 1, "south", _cities(
        "贵阳 520100 4, 六盘水 520200 1, 遵义 520300 2, 安顺 520400 1, "
        "毕节 520500 1, 铜仁 520600 1"
    )),
    Province("云南", 1.5, "south", _cities(
        "昆明 530100 5, 曲靖 530300 1, 玉溪 530400 1, 保山 530500 1, 昭通 530600 1, "
        "丽江 530700 1, 普洱 530800 1, 临沧 530900 1"
    )),
    Province("西藏", 0.1, "south", _cities("拉萨 540100 3, 日喀则 540200 1, 林芝 540400 1")),
    Province("陕西", 2, "north", _cities(
        "西安 610100 6, 铜川 610200 1, 宝鸡 610300 1, 咸阳 610400 1, 渭南 610500 1, "
        "延安 610600 1, 汉中 610700 1, 榆林 610800 1, 安康 610900 1, 商洛 611000 1"
    )),
    Province("甘肃", 0.6, "north", _cities(
        "兰州 620100 4, 嘉峪关 620200 1, 金昌 620300 1, 白银 620400 1, "
        "天水 620500 1, 武威 620600 1, 张掖 620700 1, 平凉 620800 1, 酒泉 620900 1, "
        "庆阳 621000 1, 定西 621100 1, 陇南 621200 1"
    )),
    Province("青海", 0.2, "north", _cities("西宁 630100 3, 海东 630200 1")),
    Province("宁夏", 0.3, "north", _cities(
        "银川 640100 3, 石嘴山 640200 1, 吴忠 640300 1, 固原 640400 1, 中卫 640500 1"
    )),
    Province("新疆", 0.6, "north", _cities(
        "乌鲁木齐 650100 4, 克拉玛依 650200 1, 吐鲁番 650400 1, 哈密 650500 1"
    )),
)

INDUSTRIES: tuple[Industry, ...] = (
    Industry("制造业", 16,
             _words("机械制造 精密机械 电子科技 五金制品 模具 自动化设备 塑胶制品 电气 "
                    "新材料 汽车零部件 包装材料"),
             _words("mfg tech machinery"), False),
    Industry("软件和信息技术服务", 12,
             _words("网络科技 信息技术 软件 数据科技 智能科技 云计算 信息科技"),
             _words("tech soft cloud data"), False),
    Industry("批发零售", 13,
             _words("商贸 贸易 供应链管理 电子商务 百货 食品贸易"),
             _words("trade shop mall"), True),
    Industry("教育培训", 7,
             _words("教育科技 职业技能培训 文化传播 教育咨询"),
             _words("edu school learn"), True),
    Industry("医疗健康", 7,
             _words("医疗器械 生物科技 健康管理 医药科技 医疗科技"),
             _words("med bio health"), True),
    Industry("金融", 4,
             _words("投资管理 融资租赁 资产管理 保险代理 商业保理"),
             _words("capital fin invest"), False),
    Industry("物流", 6,
             _words("物流 供应链 国际货运代理 速运 仓储服务"),
             _words("logistics express scm"), False),
    Industry("建筑工程", 7,
             _words("建筑工程 建设工程 装饰工程 市政工程 建材"),
             _words("build const deco"), False),
    Industry("餐饮酒店", 6,
             _words("餐饮管理 酒店管理 食品 餐饮服务"),
             _words("food hotel catering"), True),
    Industry("新能源", 5,
             _words("新能源科技 光伏科技 储能技术 电池科技 能源科技"),
             _words("energy solar power"), False),
    Industry("商务服务", 8,
             _words("企业管理咨询 人力资源 广告 财务咨询 知识产权代理"),
             _words("consulting hr biz"), True),
    Industry("房地产", 3,
             _words("置业 房地产开发 物业管理"),
             _words("estate property"), False),
    Industry("农业", 2,
             _words("农业科技 生态农业 农产品"),
             _words("agri farm"), True),
)

# Two of these make a brand: 云帆, 华信, 鼎盛 … (character, pinyin).
BRAND_CHARACTERS: tuple[tuple[str, str], ...] = _with_pinyin(
    "云yun 帆fan 华hua 信xin 鼎ding 盛sheng 恒heng 通tong 瑞rui 达da 宏hong 远yuan 金jin "
    "鑫xin 嘉jia 禾he 博bo 创chuang 天tian 成cheng 星xing 辰chen 新xin 锐rui 海hai 纳na "
    "汇hui 丰feng 安an 康kang 泰tai 和he 德de 隆long 润run 泽ze 锦jin 程cheng 卓zhuo 越yue "
    "智zhi 联lian 亿yi 众zhong 佳jia 美mei 优you 启qi 明ming 蓝lan 图tu 青qing 松song "
    "长chang 江jiang 东dong 方fang 晨chen 光guang 正zheng 元yuan 中zhong 科ke 永yong 利li "
    "腾teng 飞fei 骏jun 思si 源yuan 峰feng 立li 铭ming 宇yu 坤kun 乾qian 弘hong 凯kai 万wan"
)

SURNAMES: tuple[tuple[str, str, float], ...] = _surnames(
    "王:wang:71 李:li:70 张:zhang:68 刘:liu:54 陈:chen:46 杨:yang:31 黄:huang:22 赵:zhao:21 "
    "吴:wu:20 周:zhou:19 徐:xu:15 孙:sun:14 马:ma:13 朱:zhu:12 胡:hu:11 郭:guo:11 何:he:10 "
    "林:lin:10 高:gao:10 罗:luo:9 郑:zheng:8 梁:liang:8 谢:xie:7 宋:song:7 唐:tang:7 "
    "许:xu:6 韩:han:6 冯:feng:6 邓:deng:6 曹:cao:6 彭:peng:5 曾:zeng:5 肖:xiao:5 田:tian:5 "
    "董:dong:5 潘:pan:4 袁:yuan:4 蔡:cai:4 蒋:jiang:4 余:yu:4 于:yu:4 杜:du:4 叶:ye:4 "
    "程:cheng:4 魏:wei:4 苏:su:3 吕:lv:3 丁:ding:3 任:ren:3 卢:lu:3 姚:yao:3 沈:shen:3 "
    "钟:zhong:3 姜:jiang:3 崔:cui:3 谭:tan:3 陆:lu:3 范:fan:3 汪:wang:3 廖:liao:3 石:shi:3 "
    "金:jin:3 贾:jia:2 夏:xia:2 方:fang:2 邹:zou:2 熊:xiong:2 白:bai:2 孟:meng:2 秦:qin:2 "
    "邱:qiu:2 侯:hou:2 江:jiang:2 尹:yin:2 薛:xue:2 段:duan:2 雷:lei:2 龙:long:2 史:shi:2 "
    "陶:tao:2 贺:he:2 毛:mao:2 郝:hao:2 顾:gu:2 龚:gong:2 邵:shao:2 万:wan:1 武:wu:1 "
    "钱:qian:1 戴:dai:1 严:yan:1 欧阳:ouyang:1"
)
# Characters for given names (character, pinyin): one list each leaning male / female.
GIVEN_MALE: tuple[tuple[str, str], ...] = _with_pinyin(
    "伟wei 强qiang 磊lei 军jun 勇yong 杰jie 涛tao 斌bin 超chao 明ming 刚gang 平ping 辉hui "
    "鹏peng 华hua 飞fei 鑫xin 波bo 宇yu 浩hao 凯kai 健jian 俊jun 帆fan 旭xu 宁ning 龙long "
    "林lin 阳yang 建jian 国guo 志zhi 文wen 海hai 东dong 峰feng 晨chen 博bo 子zi 轩xuan "
    "然ran 泽ze 睿rui 毅yi 昊hao 天tian 成cheng 嘉jia 振zhen 立li 新xin 亮liang 诚cheng"
)
GIVEN_FEMALE: tuple[tuple[str, str], ...] = _with_pinyin(
    "芳fang 娜na 敏min 静jing 丽li 艳yan 娟juan 霞xia 秀xiu 玲ling 婷ting 雪xue 慧hui "
    "颖ying 琳lin 晶jing 洁jie 燕yan 倩qian 萍ping 红hong 梅mei 莉li 欣xin 悦yue 佳jia 怡yi "
    "雯wen 璐lu 蕾lei 思si 琪qi 萱xuan 彤tong 瑶yao 涵han 诗shi 梦meng 雅ya 晓xiao 宁ning "
    "云yun 月yue 春chun 楠nan 薇wei"
)

ROADS = _words("人民路 中山路 解放路 建设路 科技路 创业路 文化路 长江路 黄河路 和平路 "
               "新华路 工业大道 高新大道 学府路 滨江路 金融街 商务大道 世纪大道 开发区大道 光明路")
BUILDINGS = _words("科技园 创业大厦 国际中心 商务广场 产业园 金融中心 数码港 工业园")
MOBILE_PREFIXES = _words(
    "130 131 132 133 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 173 177 180 "
    "181 182 183 185 186 187 188 189 191 198 199"
)
PERSONAL_MAIL_DOMAINS = _words("qq.com 163.com 126.com 139.com foxmail.com sina.com")
CONTACT_TITLES: tuple[tuple[str, float], ...] = (
    ("总经理", 3), ("副总经理", 1.5), ("采购经理", 4), ("IT负责人", 3),
    ("销售总监", 2), ("行政主管", 2), ("财务总监", 1.5), ("董事长助理", 1),
    ("运营经理", 2), ("人事经理", 1.5), ("技术总监", 1.5), ("老板", 1),
)
LEGAL_FORMS: tuple[tuple[str, float], ...] = (
    ("有限公司", 70), ("有限责任公司", 15), ("股份有限公司", 10), ("集团有限公司", 3),
)
TAGS = _words("高意向 价格敏感 决策链长 有预算 需要演示 竞品在用 政府补贴 "
              "集团客户 专精特新 高新技术企业 老板直接决策 年底采购 多地分支")

PRODUCT_LINES = _words("CRM标准版 CRM专业版 私有化部署 数据服务 实施与培训")
FEATURES = _words("公海管理 自动分配 回收提醒 销售报表 移动端 API对接 查重防撞单 审批流")
COMPETITORS = ("其他SaaS CRM", "自研系统", "Excel表格", "老版本ERP", "企业微信自带工具")

# Follow-up notes per activity kind; {product}, {feature}, {title}, {competitor}, {people}
# are filled in by the story.
NOTES: dict[str, tuple[str, ...]] = {
    "call": (
        "电话沟通{product}需求，客户对{feature}比较感兴趣",
        "电话回访，对方在开会，约好明天下午再联系",
        "电话确认采购预算和上线时间",
        "初次电话接触，介绍了公司和{product}",
        "电话跟进报价反馈，客户认为价格偏高",
        "联系{title}，了解到目前在用{competitor}",
        "电话沟通试用情况，客户反馈{feature}好用",
    ),
    "visit": (
        "上门拜访{title}，现场演示了{product}",
        "拜访客户公司，了解销售团队管理流程",
        "到访客户公司，与技术负责人交流对接方案",
        "陪同经理拜访，客户确认了试用范围",
    ),
    "meeting": (
        "线上会议演示{product}，参会{people}人",
        "组织方案评审会，客户提出{people}点修改意见",
        "商务谈判会议，讨论合同条款和付款方式",
    ),
    "wechat": (
        "微信发送产品资料和同行业案例",
        "微信沟通试用账号开通事宜",
        "客户微信咨询{feature}的使用方法",
        "微信发送报价单，等待回复",
    ),
    "email": (
        "邮件发送正式报价单",
        "邮件发送合同草稿，请客户法务审核",
        "发送{product}方案书和实施计划",
    ),
    "note": (
        "客户决策人近期出差，下周再跟进",
        "内部备注：客户预算审批流程较长",
        "客户公司在招标，注意关注公告",
        "客户对数据安全要求高，需准备资质材料",
    ),
    "sms": (
        "短信提醒客户参加产品发布会",
        "短信发送线上会议链接",
    ),
}
OUTCOMES: dict[str, tuple[str, ...]] = {
    "call": ("有意向，约下周演示", "需求明确，准备报价", "暂无需求，三个月后再联系",
             "电话未接通", "客户在比较竞品", "需要内部讨论"),
    "visit": ("客户同意试用", "进入商务谈判", "需要补充方案", "约定二次拜访"),
    "meeting": ("方案通过初审", "进入商务谈判", "需要调整报价", "客户内部立项"),
    "wechat": ("已发送资料，等待反馈", "客户已读未回", "约定电话沟通", "客户同意试用"),
    "email": ("等待客户回复", "客户已确认收到", "法务审核中"),
    "note": ("",),
    "sms": ("",),
}

PLAIN_CLAIM = "从公海领取"  # a claim without words: the system's own reason, stored as its code
CLAIM_REASONS = (
    PLAIN_CLAIM, "主动认领：客户有明确需求", "认领：熟悉该行业",
    "认领：客户主动来电咨询", "认领：同区域老客户推荐",
)
ASSIGN_REASONS = (
    "经理分配：行业经验匹配", "经理分配：区域就近跟进", "老客户转介绍，指定跟进人",
    "经理分配：均衡团队工作量",
)
RELEASE_REASONS_UNREACHED = (
    "联系方式无效，空号", "多次联系无人接听", "非目标客户，规模太小",
)
RELEASE_REASONS = (
    "客户暂无需求", "客户已有合作供应商", "客户明确拒绝", "预算不足，明年再议",
    "精力有限，释放给同事跟进",
)
FREEZE_REASONS = (
    "合同审批中，防止被回收", "客户预算下季度到位，重点保护", "招投标进行中",
    "已报价待签约", "客户负责人休假，暂缓跟进",
)
LOST_REASONS = (
    "价格超出预算", "选择了竞争对手", "项目暂停", "决策人变动",
    "需求不匹配", "预算被砍", "决定内部自研",
)
TRANSFER_REASON = "员工离职，客户移交"
IMPORTANT_DATE_LABELS = (
    "公司成立纪念日", "签约纪念日", "合同续约日",
)
LEGAL_BASES = {
    "web_form": "客户主动留资",
    "import": "公开工商信息",
    "exhibition": "展会名片交换",
    "referral": "客户推荐并同意",
    "advertising": "客户主动留资",
}
# fmt: on

//! Deterministic demo data for the five source tables (`shared/spec/sources.md`).
//!
//! [`generate`] builds a year of a restaurant chain's operational records (orders,
//! reservations, POS transactions, member syncs, activities) for a population of
//! customers with a realistic mix of behaviours: weekly regulars, monthly customers,
//! one-timers, customers who churned 4-8 months ago, newcomers, big spenders,
//! reservation-heavy customers and sleeping ones. The output only depends on
//! [`DemoConfig::seed`] and [`DemoConfig::now`]; nothing reads the clock.
//!
//! It always contains the seed customer of the product description: 张三,
//! `13800138000`, member `M123456` (金卡, 1500 points, ¥200.00), a weekly regular at
//! `store_sh_001`.
//!
//! Records are shaped like the operational systems write them, warts included:
//! phone numbers in several spellings, times with and without offsets, members'
//! records that carry only the member id, only the phone or both, optional
//! attributes sometimes absent and sometimes NULL, and two records that belong to
//! nobody (a walk-in order and the cash payment that settles it).
//!
//! [`load`] writes the data through `BatchWriteItem`.

use std::collections::{HashMap, HashSet};

use anyhow::{bail, Context as _};
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, SecondsFormat, TimeZone, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use rand::rngs::StdRng;
use rand::seq::index::sample;
use rand::{Rng, SeedableRng};

/// One DynamoDB item, as the SDK takes it.
pub type Item = HashMap<String, AttributeValue>;

/// The source names, in the order [`DemoData::tables`] returns them.
pub const SOURCES: [&str; 5] = [
    "orders",
    "reservations",
    "pos_transactions",
    "member_sync",
    "audit_log",
];

/// The seed customer's phone (张三 in the product description).
pub const SEED_PHONE: &str = "13800138000";
/// The seed customer's member id.
pub const SEED_MEMBER_ID: &str = "M123456";
/// The seed customer's name.
pub const SEED_NAME: &str = "张三";
/// The seed customer's email.
pub const SEED_EMAIL: &str = "zhangsan@example.com";
/// The seed customer's home store (where they registered as a member).
pub const SEED_STORE: &str = "store_sh_001";
/// The seed used by [`DemoConfig::default`].
pub const DEFAULT_SEED: u64 = 20_260_218;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoConfig {
    /// Seeds the random generator: same seed and same `now`, same data.
    pub seed: u64,
    /// Number of distinct customers (distinct phone numbers), the seed customer
    /// included. Default 500.
    pub customers: usize,
    /// Store ids. Default `store_sh_001`, `store_sh_002`, `store_bj_001`; an empty
    /// list means the default.
    pub stores: Vec<String>,
    /// How far back the history goes, in days. Default 365.
    pub days_of_history: i64,
    /// The end of the history. Records are expressed in `+08:00` (Asia/Shanghai)
    /// whatever offset this carries. Only future reservations lie after it.
    pub now: DateTime<FixedOffset>,
}

impl DemoConfig {
    /// The defaults, with an explicit seed and `now` (fully deterministic).
    pub fn new(seed: u64, now: DateTime<FixedOffset>) -> Self {
        Self {
            seed,
            customers: 500,
            stores: default_stores(),
            days_of_history: 365,
            now,
        }
    }
}

impl Default for DemoConfig {
    /// [`DEFAULT_SEED`] and the current time in `+08:00`. The only place this module
    /// reads the clock: use [`DemoConfig::new`] for reproducible data.
    fn default() -> Self {
        Self::new(DEFAULT_SEED, Utc::now().with_timezone(&shanghai()))
    }
}

fn default_stores() -> Vec<String> {
    ["store_sh_001", "store_sh_002", "store_bj_001"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The generated items of the five source tables.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DemoData {
    pub orders: Vec<Item>,
    pub reservations: Vec<Item>,
    pub pos_transactions: Vec<Item>,
    /// `member_sync` items.
    pub members: Vec<Item>,
    /// `audit_log` items.
    pub activities: Vec<Item>,
}

impl DemoData {
    /// Number of items over all tables.
    pub fn len(&self) -> usize {
        self.tables().iter().map(|(_, items)| items.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(source name, items)` for each table, source names as in `sources.md`.
    pub fn tables(&self) -> [(&'static str, &[Item]); 5] {
        [
            (SOURCES[0], &self.orders),
            (SOURCES[1], &self.reservations),
            (SOURCES[2], &self.pos_transactions),
            (SOURCES[3], &self.members),
            (SOURCES[4], &self.activities),
        ]
    }
}

/// Batches written concurrently per table by [`load`].
const LOAD_CONCURRENCY: usize = 4;
/// Attempts per batch before [`load`] gives up on unprocessed items.
const LOAD_ATTEMPTS: u32 = 10;

/// Writes items with BatchWriteItem (25 per call), retrying UnprocessedItems with a
/// short backoff. `table_names` maps the source name to the actual table name.
///
/// Tables are written in [`DemoData::tables`] order, a few batches at a time. Returns
/// the number of items written. A source with items but no table name is an error
/// (before anything is written); a source without items is skipped.
pub async fn load(
    client: &aws_sdk_dynamodb::Client,
    table_names: &HashMap<&str, String>,
    data: &DemoData,
) -> anyhow::Result<usize> {
    for (source, items) in data.tables() {
        if !items.is_empty() && !table_names.contains_key(source) {
            bail!(
                "no table name given for source `{source}` ({} items to load)",
                items.len()
            );
        }
    }
    let mut written = 0;
    for (source, items) in data.tables() {
        if items.is_empty() {
            continue;
        }
        let table = &table_names[source];
        let started = std::time::Instant::now();
        let batches = items
            .chunks(25)
            .map(|chunk| {
                chunk
                    .iter()
                    .map(|item| {
                        let put = PutRequest::builder().set_item(Some(item.clone())).build()?;
                        Ok(WriteRequest::builder().put_request(put).build())
                    })
                    .collect::<anyhow::Result<Vec<_>>>()
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let counts: Vec<usize> = stream::iter(batches)
            .map(|batch| write_batch(client, table, batch))
            .buffer_unordered(LOAD_CONCURRENCY)
            .try_collect()
            .await
            .with_context(|| format!("loading `{source}` into table `{table}`"))?;
        let count: usize = counts.iter().sum();
        tracing::info!(
            source,
            table = %table,
            items = count,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "demo data loaded"
        );
        written += count;
    }
    Ok(written)
}

async fn write_batch(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    mut requests: Vec<WriteRequest>,
) -> anyhow::Result<usize> {
    let total = requests.len();
    let mut backoff = std::time::Duration::from_millis(50);
    for attempt in 1..=LOAD_ATTEMPTS {
        let out = client
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .context("BatchWriteItem")?;
        requests = out
            .unprocessed_items
            .and_then(|mut unprocessed| unprocessed.remove(table))
            .unwrap_or_default();
        if requests.is_empty() {
            return Ok(total);
        }
        tracing::debug!(
            table,
            attempt,
            unprocessed = requests.len(),
            "retrying unprocessed items"
        );
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(std::time::Duration::from_secs(2));
    }
    bail!(
        "{} of {total} items still unprocessed after {LOAD_ATTEMPTS} attempts",
        requests.len()
    )
}

/// Generates the data. Deterministic: same config, same data.
pub fn generate(config: &DemoConfig) -> DemoData {
    Gen::new(config).run()
}

// ---------------------------------------------------------------------------------
// Reference data

fn shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

/// Common surnames with their pinyin (the first ones are the most common).
const SURNAMES: &[(&str, &str)] = &[
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("林", "lin"),
    ("高", "gao"),
    ("罗", "luo"),
    ("郑", "zheng"),
    ("梁", "liang"),
    ("谢", "xie"),
    ("宋", "song"),
    ("唐", "tang"),
    ("许", "xu"),
    ("韩", "han"),
    ("冯", "feng"),
    ("邓", "deng"),
    ("曹", "cao"),
    ("彭", "peng"),
    ("曾", "zeng"),
    ("肖", "xiao"),
    ("田", "tian"),
    ("董", "dong"),
    ("潘", "pan"),
    ("袁", "yuan"),
    ("蔡", "cai"),
    ("蒋", "jiang"),
    ("余", "yu"),
    ("于", "yu"),
    ("杜", "du"),
    ("叶", "ye"),
    ("程", "cheng"),
    ("魏", "wei"),
    ("苏", "su"),
    ("吕", "lv"),
    ("丁", "ding"),
    ("沈", "shen"),
    ("任", "ren"),
    ("姚", "yao"),
    ("卢", "lu"),
    ("钟", "zhong"),
    ("姜", "jiang"),
    ("崔", "cui"),
    ("谭", "tan"),
    ("陆", "lu"),
    ("范", "fan"),
    ("汪", "wang"),
    ("廖", "liao"),
    ("石", "shi"),
    ("金", "jin"),
    ("贾", "jia"),
    ("夏", "xia"),
    ("方", "fang"),
    ("邹", "zou"),
    ("熊", "xiong"),
    ("白", "bai"),
    ("孟", "meng"),
    ("秦", "qin"),
    ("邱", "qiu"),
    ("侯", "hou"),
    ("江", "jiang"),
    ("薛", "xue"),
    ("雷", "lei"),
    ("龙", "long"),
    ("史", "shi"),
    ("陶", "tao"),
    ("顾", "gu"),
    ("毛", "mao"),
    ("龚", "gong"),
    ("邵", "shao"),
    ("钱", "qian"),
    ("严", "yan"),
    ("戴", "dai"),
    ("孔", "kong"),
];

/// Compound surnames, rarer.
const COMPOUND_SURNAMES: &[(&str, &str)] = &[
    ("欧阳", "ouyang"),
    ("司马", "sima"),
    ("上官", "shangguan"),
    ("诸葛", "zhuge"),
    ("慕容", "murong"),
    ("东方", "dongfang"),
];

/// Characters of given names with their pinyin.
const GIVEN: &[(&str, &str)] = &[
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("红", "hong"),
    ("华", "hua"),
    ("建", "jian"),
    ("国", "guo"),
    ("文", "wen"),
    ("辉", "hui"),
    ("鹏", "peng"),
    ("婷", "ting"),
    ("玲", "ling"),
    ("雪", "xue"),
    ("梅", "mei"),
    ("琳", "lin"),
    ("晨", "chen"),
    ("浩", "hao"),
    ("宇", "yu"),
    ("轩", "xuan"),
    ("子", "zi"),
    ("涵", "han"),
    ("欣", "xin"),
    ("怡", "yi"),
    ("梓", "zi"),
    ("萱", "xuan"),
    ("思", "si"),
    ("嘉", "jia"),
    ("俊", "jun"),
    ("博", "bo"),
    ("然", "ran"),
    ("诺", "nuo"),
    ("雨", "yu"),
    ("晓", "xiao"),
    ("志", "zhi"),
    ("海", "hai"),
    ("燕", "yan"),
    ("春", "chun"),
    ("丹", "dan"),
    ("颖", "ying"),
    ("慧", "hui"),
    ("倩", "qian"),
    ("凯", "kai"),
    ("阳", "yang"),
    ("飞", "fei"),
    ("斌", "bin"),
    ("宁", "ning"),
    ("瑶", "yao"),
    ("悦", "yue"),
    ("昊", "hao"),
    ("天", "tian"),
];

const PHONE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153",
    "155", "156", "157", "158", "159", "170", "173", "175", "176", "177", "178", "180", "181",
    "182", "183", "185", "186", "187", "188", "189", "191", "193", "195", "198", "199",
];

const EMAIL_DOMAINS: &[&str] = &[
    "qq.com",
    "163.com",
    "126.com",
    "gmail.com",
    "outlook.com",
    "sina.com",
    "foxmail.com",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum DishKind {
    Main,
    Premium,
    Staple,
    Rice,
    DimSum,
    Drink,
}

struct Dish {
    id: &'static str,
    name: &'static str,
    fen: i64,
    kind: DishKind,
}

const fn dish(id: &'static str, name: &'static str, fen: i64, kind: DishKind) -> Dish {
    Dish {
        id,
        name,
        fen,
        kind,
    }
}

const MENU: &[Dish] = &[
    dish("D001", "宫保鸡丁", 4800, DishKind::Main),
    dish("D002", "水煮鱼", 8800, DishKind::Main),
    dish("D003", "麻婆豆腐", 2800, DishKind::Main),
    dish("D004", "鱼香肉丝", 3800, DishKind::Main),
    dish("D005", "回锅肉", 4200, DishKind::Main),
    dish("D006", "糖醋排骨", 5800, DishKind::Main),
    dish("D007", "红烧肉", 5600, DishKind::Main),
    dish("D008", "清蒸鲈鱼", 8800, DishKind::Main),
    dish("D009", "东坡肉", 6800, DishKind::Main),
    dish("D010", "酸菜鱼", 7800, DishKind::Main),
    dish("D011", "干煸四季豆", 3200, DishKind::Main),
    dish("D012", "蒜蓉西兰花", 2600, DishKind::Main),
    dish("D013", "地三鲜", 3000, DishKind::Main),
    dish("D014", "西湖醋鱼", 7800, DishKind::Main),
    dish("D015", "口水鸡", 4600, DishKind::Main),
    dish("D016", "夫妻肺片", 4800, DishKind::Main),
    dish("D017", "蟹粉豆腐", 6800, DishKind::Main),
    dish("D018", "小炒黄牛肉", 6600, DishKind::Main),
    dish("D019", "辣子鸡", 5800, DishKind::Main),
    dish("D020", "酸辣土豆丝", 2200, DishKind::Main),
    dish("D021", "番茄炒蛋", 2600, DishKind::Main),
    dish("D022", "干锅花菜", 3400, DishKind::Main),
    dish("D023", "酸辣汤", 2200, DishKind::Main),
    dish("D024", "腌笃鲜", 6800, DishKind::Main),
    dish("D101", "北京烤鸭", 19800, DishKind::Premium),
    dish("D102", "松鼠鳜鱼", 16800, DishKind::Premium),
    dish("D103", "佛跳墙", 38800, DishKind::Premium),
    dish("D104", "清蒸东星斑", 32800, DishKind::Premium),
    dish("D105", "鲍汁扣辽参", 26800, DishKind::Premium),
    dish("D106", "避风塘炒蟹", 22800, DishKind::Premium),
    dish("D201", "米饭", 300, DishKind::Rice),
    dish("D202", "扬州炒饭", 2800, DishKind::Staple),
    dish("D203", "担担面", 2200, DishKind::Staple),
    dish("D204", "葱油拌面", 1800, DishKind::Staple),
    dish("D301", "小笼包", 3200, DishKind::DimSum),
    dish("D302", "生煎包", 2400, DishKind::DimSum),
    dish("D303", "蟹黄汤包", 4800, DishKind::DimSum),
    dish("D304", "春卷", 1800, DishKind::DimSum),
    dish("D401", "酸梅汤", 1200, DishKind::Drink),
    dish("D402", "可乐", 800, DishKind::Drink),
    dish("D403", "鲜榨橙汁", 2200, DishKind::Drink),
    dish("D404", "菊花茶", 1600, DishKind::Drink),
    dish("D405", "青岛啤酒", 1500, DishKind::Drink),
];

/// Delivery fee added to delivery orders' totals (not an item line).
const DELIVERY_FEE_FEN: i64 = 600;

// ---------------------------------------------------------------------------------
// Customers

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Persona {
    /// 张三.
    Seed,
    /// About weekly, still coming.
    Weekly,
    /// About monthly.
    Monthly,
    /// One visit.
    OneTimer,
    /// Was a regular, stopped 4-8 months ago.
    Churned,
    /// First visit within the last month.
    Newcomer,
    /// Average ticket well over 300 yuan.
    BigSpender,
    /// Books a table for nearly every visit (>= 5 completed/arrived reservations).
    Booker,
    /// A few visits, the last one 31-90 days ago.
    Lapsed,
}

impl Persona {
    fn pick(rng: &mut StdRng) -> Self {
        pick(
            rng,
            &[
                (Persona::Weekly, 12),
                (Persona::Monthly, 24),
                (Persona::OneTimer, 18),
                (Persona::Churned, 12),
                (Persona::Newcomer, 9),
                (Persona::BigSpender, 8),
                (Persona::Booker, 7),
                (Persona::Lapsed, 10),
            ],
        )
    }

    fn member_rate(self) -> f64 {
        match self {
            Persona::Seed => 1.0,
            Persona::Weekly | Persona::BigSpender => 0.85,
            Persona::Booker => 0.75,
            Persona::Churned => 0.65,
            Persona::Monthly => 0.6,
            Persona::Lapsed => 0.5,
            Persona::Newcomer => 0.4,
            Persona::OneTimer => 0.35,
        }
    }

    /// Chance that a dine-in visit was booked.
    fn booking_rate(self) -> f64 {
        match self {
            Persona::Seed => 0.0, // scripted
            Persona::Booker => 1.0,
            Persona::BigSpender => 0.5,
            Persona::Monthly | Persona::Lapsed => 0.14,
            Persona::Weekly => 0.08,
            _ => 0.1,
        }
    }

    /// Weights of dine_in, delivery, pickup.
    fn order_types(self) -> [u32; 3] {
        match self {
            Persona::Booker | Persona::BigSpender => [90, 5, 5],
            Persona::OneTimer | Persona::Newcomer => [55, 30, 15],
            Persona::Seed => [75, 15, 10],
            _ => [62, 22, 16],
        }
    }

    /// Days between app logins (members), as a range.
    fn login_every(self) -> (f64, f64) {
        match self {
            Persona::Seed => (3.0, 5.0),
            // Spaced out so the demo stays around 12k records: it is projected through the
            // local emulator, record by record, when `scripts/dev` starts.
            Persona::Weekly | Persona::Newcomer => (7.0, 15.0),
            Persona::BigSpender | Persona::Churned => (12.0, 25.0),
            Persona::Booker => (15.0, 30.0),
            Persona::Monthly => (20.0, 40.0),
            Persona::Lapsed => (30.0, 60.0),
            Persona::OneTimer => (60.0, 180.0),
        }
    }
}

struct Member {
    member_id: String,
    email: Option<String>,
}

struct Person {
    phone: String,
    name: String,
    home: usize,
    persona: Persona,
    member: Option<Member>,
    /// Visit times and stores, chronological.
    visits: Vec<(DateTime<FixedOffset>, usize)>,
    /// Spend of paid/completed orders, fen.
    spent_fen: i64,
}

// ---------------------------------------------------------------------------------
// Drafts (records before they become items)

#[derive(Clone, Copy)]
enum TimeStyle {
    Offset,
    Naive,
    Utc,
    UtcMillis,
}

struct OrderDraft {
    person: Option<usize>,
    store: usize,
    order_type: &'static str,
    status: &'static str,
    created: DateTime<FixedOffset>,
    updated: DateTime<FixedOffset>,
    lines: Vec<(usize, u32)>,
    total_fen: i64,
    phone: Option<String>,
    member_id: Option<String>,
    name: Option<String>,
    with_items: bool,
    style: TimeStyle,
    /// Whether the POS settles it: `None` decides at random.
    pos: Option<bool>,
    number: String,
}

/// Identifiers a record carries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ids {
    Phone,
    Member,
    Both,
}

struct Gen<'a> {
    cfg: &'a DemoConfig,
    rng: StdRng,
    tz: FixedOffset,
    now: DateTime<FixedOffset>,
    /// Days of history, at least 2.
    hist: f64,
    stores: Vec<String>,
    people: Vec<Person>,
    orders: Vec<OrderDraft>,
    reservations: Vec<(DateTime<FixedOffset>, Item)>,
    pos: Vec<(DateTime<FixedOffset>, Item)>,
    members: Vec<(DateTime<FixedOffset>, Item)>,
    activities: Vec<(DateTime<FixedOffset>, Item)>,
    used_ids: HashSet<String>,
    mains: Vec<usize>,
    premium: Vec<usize>,
    staples: Vec<usize>,
    dim_sum: Vec<usize>,
    drinks: Vec<usize>,
    rice: usize,
}

fn pick<T: Copy>(rng: &mut StdRng, options: &[(T, u32)]) -> T {
    let total: u32 = options.iter().map(|o| o.1).sum();
    let mut x = rng.gen_range(0..total);
    for &(value, weight) in options {
        if x < weight {
            return value;
        }
        x -= weight;
    }
    options[options.len() - 1].0
}

/// `fen` as a yuan string with exactly two decimals, built from integers.
fn yuan(fen: i64) -> String {
    assert!(fen >= 0, "negative money: {fen}");
    format!("{}.{:02}", fen / 100, fen % 100)
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn num(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn money(fen: i64) -> AttributeValue {
    AttributeValue::N(yuan(fen))
}

fn minutes(m: i64) -> Duration {
    Duration::minutes(m)
}

impl<'a> Gen<'a> {
    fn new(cfg: &'a DemoConfig) -> Self {
        let tz = shanghai();
        let stores = if cfg.stores.is_empty() {
            default_stores()
        } else {
            cfg.stores.clone()
        };
        let of = |kind: DishKind| -> Vec<usize> {
            MENU.iter()
                .enumerate()
                .filter(|(_, d)| d.kind == kind)
                .map(|(i, _)| i)
                .collect()
        };
        Self {
            cfg,
            rng: StdRng::seed_from_u64(cfg.seed),
            tz,
            now: cfg.now.with_timezone(&tz),
            hist: cfg.days_of_history.max(2) as f64,
            stores,
            people: Vec::new(),
            orders: Vec::new(),
            reservations: Vec::new(),
            pos: Vec::new(),
            members: Vec::new(),
            activities: Vec::new(),
            used_ids: HashSet::new(),
            mains: of(DishKind::Main),
            premium: of(DishKind::Premium),
            staples: of(DishKind::Staple),
            dim_sum: of(DishKind::DimSum),
            drinks: of(DishKind::Drink),
            rice: of(DishKind::Rice)[0],
        }
    }

    fn run(mut self) -> DemoData {
        if self.cfg.customers == 0 {
            return DemoData::default();
        }
        self.make_people();
        for p in 0..self.people.len() {
            if self.people[p].persona == Persona::Seed {
                self.seed_customer_records(p);
            } else {
                self.customer_records(p);
            }
        }
        self.anonymous_order();
        self.number_orders();
        self.pos_transactions();
        for p in 0..self.people.len() {
            self.member_record(p);
            self.activity_records(p);
        }
        self.finish()
    }

    // -- small helpers ------------------------------------------------------------

    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p.clamp(0.0, 1.0))
    }

    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        if hi <= lo {
            lo
        } else {
            self.rng.gen_range(lo..hi)
        }
    }

    fn fresh_id(&mut self, make: impl Fn(&mut StdRng) -> String) -> String {
        loop {
            let id = make(&mut self.rng);
            if self.used_ids.insert(id.clone()) {
                return id;
            }
        }
    }

    fn uuid(&mut self) -> String {
        self.fresh_id(|rng| {
            let v: u128 = rng.gen();
            let v = (v & !(0xF << 76)) | (0x4 << 76); // version 4
            let v = (v & !(0x3 << 62)) | (0x2 << 62); // RFC 4122 variant
            let h = format!("{v:032x}");
            format!(
                "{}-{}-{}-{}-{}",
                &h[0..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            )
        })
    }

    fn other_store(&mut self, home: usize, away_rate: f64) -> usize {
        if self.stores.len() > 1 && self.chance(away_rate) {
            let k = self.rng.gen_range(0..self.stores.len() - 1);
            if k >= home {
                k + 1
            } else {
                k
            }
        } else {
            home
        }
    }

    /// The local time `days_ago` days before today at `minute_of_day`, never after now.
    fn at(&mut self, days_ago: f64, minute_of_day: u32) -> DateTime<FixedOffset> {
        let date: NaiveDate = self.now.date_naive() - Duration::days(days_ago.floor() as i64);
        let second = self.rng.gen_range(0..60);
        let naive = date
            .and_hms_opt(minute_of_day / 60, minute_of_day % 60, second)
            .expect("valid time of day");
        let mut t = self
            .tz
            .from_local_datetime(&naive)
            .single()
            .expect("fixed offsets are unambiguous");
        while t > self.now {
            t -= Duration::days(1);
        }
        t
    }

    /// A minute of the day when this kind of order is placed.
    fn meal_minute(&mut self, order_type: &str) -> u32 {
        let (from, to) = match order_type {
            "delivery" => pick(
                &mut self.rng,
                &[
                    ((11 * 60, 13 * 60), 45),
                    ((17 * 60 + 30, 20 * 60 + 30), 40),
                    ((21 * 60, 23 * 60 + 30), 15),
                ],
            ),
            "pickup" => pick(
                &mut self.rng,
                &[
                    ((7 * 60 + 30, 9 * 60 + 30), 20),
                    ((11 * 60, 13 * 60), 50),
                    ((17 * 60, 19 * 60 + 30), 30),
                ],
            ),
            _ => pick(
                &mut self.rng,
                &[((11 * 60, 13 * 60 + 30), 40), ((17 * 60, 20 * 60 + 30), 60)],
            ),
        };
        self.rng.gen_range(from..to)
    }

    /// Days-ago values from `from` (oldest) down to `to`, about `every` days apart.
    fn cadence(&mut self, from: f64, to: f64, every: f64) -> Vec<f64> {
        let max = self.hist - 1.0;
        let from = from.clamp(0.0, max);
        let to = to.clamp(0.0, from);
        let mut out = Vec::new();
        let mut t = from;
        while t >= to {
            out.push(t);
            t -= every * self.uniform(0.6, 1.4);
        }
        out
    }

    fn time_style(&mut self, weights: [u32; 4]) -> TimeStyle {
        pick(
            &mut self.rng,
            &[
                (TimeStyle::Offset, weights[0]),
                (TimeStyle::Naive, weights[1]),
                (TimeStyle::Utc, weights[2]),
                (TimeStyle::UtcMillis, weights[3]),
            ],
        )
    }

    fn fmt_time(t: DateTime<FixedOffset>, style: TimeStyle) -> String {
        match style {
            TimeStyle::Offset => t.to_rfc3339_opts(SecondsFormat::Secs, true),
            TimeStyle::Naive => t.naive_local().format("%Y-%m-%dT%H:%M:%S").to_string(),
            TimeStyle::Utc => t
                .with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Secs, true),
            TimeStyle::UtcMillis => t
                .with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    }

    /// The phone the way a source system spells it.
    fn spell(&mut self, phone: &str) -> String {
        let (a, b, c) = (&phone[0..3], &phone[3..7], &phone[7..11]);
        match pick(&mut self.rng, &[(0, 80), (1, 7), (2, 7), (3, 6)]) {
            1 => format!("+86 {a} {b} {c}"),
            2 => format!("86-{phone}"),
            3 => format!("{a}-{b}-{c}"),
            _ => phone.to_string(),
        }
    }

    fn ids_for(&mut self, p: usize, phone_needed: bool) -> Ids {
        if self.people[p].member.is_none() {
            return Ids::Phone;
        }
        match pick(
            &mut self.rng,
            &[(Ids::Both, 50), (Ids::Phone, 30), (Ids::Member, 20)],
        ) {
            Ids::Member if phone_needed => Ids::Both,
            ids => ids,
        }
    }

    fn phone_and_member(&mut self, p: usize, ids: Ids) -> (Option<String>, Option<String>) {
        let phone = match ids {
            Ids::Member => None,
            _ => {
                let raw = self.people[p].phone.clone();
                Some(self.spell(&raw))
            }
        };
        let member = match ids {
            Ids::Phone => None,
            _ => self.people[p].member.as_ref().map(|m| m.member_id.clone()),
        };
        (phone, member)
    }

    // -- people -------------------------------------------------------------------

    fn make_people(&mut self) {
        let seed_home = self
            .stores
            .iter()
            .position(|s| s == SEED_STORE)
            .unwrap_or(0);
        let mut phones: HashSet<String> = HashSet::from([SEED_PHONE.to_string()]);
        let mut emails: HashSet<String> = HashSet::from([SEED_EMAIL.to_string()]);
        let mut member_ids: HashSet<String> = HashSet::from([SEED_MEMBER_ID.to_string()]);
        self.people.push(Person {
            phone: SEED_PHONE.into(),
            name: SEED_NAME.into(),
            home: seed_home,
            persona: Persona::Seed,
            member: Some(Member {
                member_id: SEED_MEMBER_ID.into(),
                email: Some(SEED_EMAIL.into()),
            }),
            visits: Vec::new(),
            spent_fen: 0,
        });
        while self.people.len() < self.cfg.customers {
            let phone = loop {
                let prefix = PHONE_PREFIXES[self.rng.gen_range(0..PHONE_PREFIXES.len())];
                let phone = format!("{prefix}{:08}", self.rng.gen_range(0..100_000_000u32));
                if phones.insert(phone.clone()) {
                    break phone;
                }
            };
            let (name, pinyin) = self.chinese_name();
            let persona = Persona::pick(&mut self.rng);
            let home = self.rng.gen_range(0..self.stores.len());
            let member = if self.chance(persona.member_rate()) {
                let member_id = loop {
                    let id = format!("M{}", self.rng.gen_range(100_000..1_000_000u32));
                    if member_ids.insert(id.clone()) {
                        break id;
                    }
                };
                let email = if self.chance(0.45) {
                    Some(self.email(&pinyin, &phone, &mut emails))
                } else {
                    None
                };
                Some(Member { member_id, email })
            } else {
                None
            };
            self.people.push(Person {
                phone,
                name,
                home,
                persona,
                member,
                visits: Vec::new(),
                spent_fen: 0,
            });
        }
    }

    /// A name and its pinyin (surname, given).
    fn chinese_name(&mut self) -> (String, (String, String)) {
        let (surname, s_py) = if self.chance(0.02) {
            COMPOUND_SURNAMES[self.rng.gen_range(0..COMPOUND_SURNAMES.len())]
        } else {
            let weighted: Vec<(usize, u32)> = (0..SURNAMES.len())
                .map(|i| {
                    let w = match i {
                        0..=4 => 8,
                        5..=9 => 5,
                        10..=29 => 2,
                        _ => 1,
                    };
                    (i, w)
                })
                .collect();
            SURNAMES[pick(&mut self.rng, &weighted)]
        };
        let chars = if self.chance(0.45) { 1 } else { 2 };
        let mut given = String::new();
        let mut g_py = String::new();
        for _ in 0..chars {
            let (c, py) = GIVEN[self.rng.gen_range(0..GIVEN.len())];
            given.push_str(c);
            g_py.push_str(py);
        }
        (
            format!("{surname}{given}"),
            (s_py.to_string(), g_py.to_string()),
        )
    }

    fn email(
        &mut self,
        (surname, given): &(String, String),
        phone: &str,
        taken: &mut HashSet<String>,
    ) -> String {
        let domain = EMAIL_DOMAINS[self.rng.gen_range(0..EMAIL_DOMAINS.len())];
        let capitalize = |w: &str| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        };
        let mixed = self.chance(0.3);
        let mut local = if domain == "qq.com" && self.chance(0.6) {
            self.rng.gen_range(10_000_000..3_000_000_000u64).to_string()
        } else {
            match self.rng.gen_range(0..4) {
                0 => format!("{surname}{given}"),
                1 => format!("{surname}.{given}"),
                2 => format!("{given}{surname}{}", self.rng.gen_range(1..100)),
                _ => format!("{surname}{given}{}", &phone[7..]),
            }
        };
        if mixed {
            local = match local.split_once('.') {
                Some((a, b)) => format!("{}.{}", capitalize(a), capitalize(b)),
                None => capitalize(&local),
            };
        }
        let domain = if mixed && self.chance(0.3) {
            domain.to_ascii_uppercase()
        } else {
            domain.to_string()
        };
        let mut email = format!("{local}@{domain}");
        while !taken.insert(email.to_ascii_lowercase()) {
            email = format!("{local}{}@{domain}", self.rng.gen_range(0..1000));
        }
        email
    }

    // -- orders and reservations ---------------------------------------------------

    fn party(&mut self, persona: Persona) -> u32 {
        match persona {
            Persona::BigSpender => pick(
                &mut self.rng,
                &[(4, 25), (5, 15), (6, 25), (8, 20), (10, 10), (12, 5)],
            ),
            Persona::Booker => pick(
                &mut self.rng,
                &[(2, 15), (3, 15), (4, 30), (5, 15), (6, 15), (8, 8), (10, 2)],
            ),
            Persona::Seed => pick(&mut self.rng, &[(2, 50), (3, 25), (4, 25)]),
            _ => pick(
                &mut self.rng,
                &[
                    (1, 12),
                    (2, 34),
                    (3, 20),
                    (4, 20),
                    (5, 6),
                    (6, 5),
                    (8, 2),
                    (10, 1),
                ],
            ),
        }
    }

    fn lines(&mut self, order_type: &str, party: u32, rich: bool) -> Vec<(usize, u32)> {
        let mut lines: Vec<(usize, u32)> = Vec::new();
        let take = |gen: &mut Self, pool: &[usize], k: usize| -> Vec<usize> {
            let k = k.clamp(1, pool.len());
            sample(&mut gen.rng, pool.len(), k)
                .into_iter()
                .map(|i| pool[i])
                .collect()
        };
        let mains = self.mains.clone();
        match order_type {
            "delivery" => {
                let k = self.rng.gen_range(1..=3) + usize::from(rich);
                lines.extend(take(self, &mains, k).into_iter().map(|d| (d, 1)));
                lines.push((self.rice, self.rng.gen_range(1..=2)));
                if self.chance(0.3) {
                    let drinks = self.drinks.clone();
                    let d = take(self, &drinks, 1)[0];
                    lines.push((d, self.rng.gen_range(1..=2)));
                }
            }
            "pickup" if !rich && self.chance(0.5) => {
                let dim = self.dim_sum.clone();
                let k = self.rng.gen_range(1..=2);
                for d in take(self, &dim, k) {
                    lines.push((d, self.rng.gen_range(1..=3)));
                }
            }
            "pickup" => {
                let k = self.rng.gen_range(1..=2) + usize::from(rich);
                lines.extend(take(self, &mains, k).into_iter().map(|d| (d, 1)));
                lines.push((self.rice, self.rng.gen_range(1..=2)));
            }
            _ => {
                let k = (party as i64 + self.rng.gen_range(-1..=1)).max(1) as usize;
                for d in take(self, &mains, k) {
                    let qty = if party >= 8 && self.chance(0.3) { 2 } else { 1 };
                    lines.push((d, qty));
                }
                let premium = self.premium.clone();
                if rich {
                    let k = self.rng.gen_range(1..=2) + usize::from(party >= 8);
                    lines.extend(take(self, &premium, k).into_iter().map(|d| (d, 1)));
                } else if self.chance(0.07) {
                    lines.push((take(self, &premium, 1)[0], 1));
                }
                if self.chance(0.6) {
                    lines.push((self.rice, party));
                } else {
                    let staples = self.staples.clone();
                    let d = take(self, &staples, 1)[0];
                    lines.push((d, self.rng.gen_range(1..=2)));
                }
                if self.chance(0.3) {
                    let dim = self.dim_sum.clone();
                    let d = take(self, &dim, 1)[0];
                    lines.push((d, self.rng.gen_range(1..=2)));
                }
                if self.chance(0.45) {
                    let drinks = self.drinks.clone();
                    let d = take(self, &drinks, 1)[0];
                    lines.push((d, self.rng.gen_range(1..=party.max(1))));
                }
            }
        }
        lines
    }

    fn order_status(&mut self, created: DateTime<FixedOffset>) -> &'static str {
        if self.now - created < Duration::hours(48) {
            pick(
                &mut self.rng,
                &[
                    ("pending", 20),
                    ("paid", 30),
                    ("completed", 45),
                    ("cancelled", 5),
                ],
            )
        } else {
            pick(
                &mut self.rng,
                &[
                    ("completed", 80),
                    ("paid", 8),
                    ("cancelled", 6),
                    ("refunded", 4),
                    ("pending", 2),
                ],
            )
        }
    }

    fn updated_after(
        &mut self,
        created: DateTime<FixedOffset>,
        status: &str,
        order_type: &str,
    ) -> DateTime<FixedOffset> {
        let later = match (status, order_type) {
            ("pending", _) => minutes(self.rng.gen_range(0..3)),
            ("paid", _) => minutes(self.rng.gen_range(1..30)),
            ("completed", "dine_in") => minutes(self.rng.gen_range(40..130)),
            ("completed", _) => minutes(self.rng.gen_range(20..70)),
            ("cancelled", _) => minutes(self.rng.gen_range(2..45)),
            _ => minutes(self.rng.gen_range(120..72 * 60)),
        } + Duration::seconds(self.rng.gen_range(0..60));
        (created + later).min(self.now).max(created)
    }

    /// Adds one order for a visit; returns its draft index.
    #[allow(clippy::too_many_arguments)]
    fn add_order(
        &mut self,
        p: usize,
        store: usize,
        order_type: &'static str,
        created: DateTime<FixedOffset>,
        party: u32,
        status: Option<&'static str>,
        ids: Option<(Option<String>, Option<String>)>,
    ) -> usize {
        let persona = self.people[p].persona;
        let rich = persona == Persona::BigSpender;
        let status = status.unwrap_or_else(|| self.order_status(created));
        let updated = self.updated_after(created, status, order_type);
        let lines = self.lines(order_type, party, rich);
        let mut total_fen: i64 = lines.iter().map(|&(d, q)| MENU[d].fen * q as i64).sum();
        if order_type == "delivery" {
            total_fen += DELIVERY_FEE_FEN;
        }
        let (phone, member_id) = match ids {
            Some(ids) => ids,
            None => {
                let ids = self.ids_for(p, order_type == "delivery");
                self.phone_and_member(p, ids)
            }
        };
        let name = if self.chance(0.7) {
            Some(self.people[p].name.clone())
        } else {
            None
        };
        if matches!(status, "paid" | "completed") {
            self.people[p].spent_fen += total_fen;
        }
        self.people[p].visits.push((created, store));
        let with_items = self.chance(0.97);
        let style = self.time_style([82, 14, 4, 0]);
        self.orders.push(OrderDraft {
            person: Some(p),
            store,
            order_type,
            status,
            created,
            updated,
            lines,
            total_fen,
            phone,
            member_id,
            name,
            with_items,
            style,
            pos: None,
            number: String::new(),
        });
        self.orders.len() - 1
    }

    fn customer_records(&mut self, p: usize) {
        let persona = self.people[p].persona;
        let hist = self.hist;
        let days: Vec<f64> = match persona {
            Persona::Weekly => {
                let start = self.uniform(60.0, hist);
                let every = self.uniform(5.0, 8.0);
                self.cadence(start, 0.0, every)
            }
            Persona::Monthly => {
                let start = self.uniform(90.0, hist);
                let every = self.uniform(24.0, 38.0);
                self.cadence(start, 0.0, every)
            }
            Persona::OneTimer => vec![self.uniform(0.0, hist - 1.0)],
            Persona::Churned => {
                let stop = self.uniform(120.0, 240.0);
                let start = stop + self.uniform(90.0, 160.0);
                let every = self.uniform(6.0, 14.0);
                self.cadence(start, stop, every)
            }
            Persona::Newcomer => {
                let start = self.uniform(1.0, 30.0);
                let every = self.uniform(4.0, 12.0);
                let mut days = self.cadence(start, 0.0, every);
                days.truncate(4);
                days
            }
            Persona::BigSpender => {
                let start = self.uniform(60.0, hist);
                let end = self.uniform(0.0, 20.0);
                let every = self.uniform(10.0, 25.0);
                self.cadence(start, end, every)
            }
            Persona::Booker => {
                let start = self.uniform(150.0, hist);
                let end = self.uniform(0.0, 25.0);
                let every = self.uniform(14.0, 26.0);
                self.cadence(start, end, every)
            }
            Persona::Lapsed => {
                let last = self.uniform(31.0, 90.0);
                let start = last + self.uniform(60.0, 200.0);
                let every = self.uniform(20.0, 40.0);
                self.cadence(start, last, every)
            }
            Persona::Seed => unreachable!("scripted separately"),
        };
        let mut days = days;
        if days.is_empty() {
            days.push(self.uniform(0.0, hist - 1.0));
        }
        let home = self.people[p].home;
        // Half the customers stick to their home store; the others now and then go elsewhere.
        let away = if self.chance(0.5) {
            0.0
        } else {
            self.uniform(0.05, 0.25)
        };
        let [w_dine, w_delivery, w_pickup] = persona.order_types();
        let mut booked_any = false;
        let mut last_visit = None;
        for &d in &days {
            let order_type = pick(
                &mut self.rng,
                &[
                    ("dine_in", w_dine),
                    ("delivery", w_delivery),
                    ("pickup", w_pickup),
                ],
            );
            let store = self.other_store(home, away);
            let minute = self.meal_minute(order_type);
            let visit = self.at(d, minute);
            last_visit = Some(visit);
            let party = self.party(persona);
            if order_type == "dine_in" && self.chance(persona.booking_rate()) {
                let reserved_for = round_to_half_hour(visit);
                let status = pick(&mut self.rng, &[("completed", 80), ("arrived", 20)]);
                self.add_reservation(p, store, reserved_for, party, status, None);
                let created = (reserved_for + minutes(self.rng.gen_range(5..40))).min(self.now);
                self.add_order(p, store, order_type, created, party, None, None);
                booked_any = true;
                // Now and then a booking that did not happen.
                let miss_rate = if persona == Persona::Booker { 0.2 } else { 0.1 };
                if self.chance(miss_rate) {
                    let shift = self.uniform(2.0, 12.0);
                    let when = self.at((d + shift).min(hist - 1.0), 18 * 60);
                    let status = pick(&mut self.rng, &[("cancelled", 60), ("no_show", 40)]);
                    let party = self.party(persona);
                    self.add_reservation(p, store, round_to_half_hour(when), party, status, None);
                }
            } else {
                self.add_order(p, store, order_type, visit, party, None, None);
            }
        }
        // A table booked for the coming days.
        let recent = last_visit.is_some_and(|t| self.now - t < Duration::days(30));
        let future_rate = match persona {
            Persona::Booker => 0.6,
            Persona::BigSpender | Persona::Weekly => 0.3,
            _ if booked_any => 0.15,
            _ => 0.02,
        };
        if recent && self.chance(future_rate) {
            let days_ahead = self.rng.gen_range(1..=14);
            let minute = pick(
                &mut self.rng,
                &[
                    (11 * 60 + 30, 20),
                    (12 * 60, 15),
                    (17 * 60 + 30, 20),
                    (18 * 60, 25),
                    (18 * 60 + 30, 20),
                ],
            );
            let date = self.now.date_naive() + Duration::days(days_ahead);
            let reserved_for = self
                .tz
                .from_local_datetime(&date.and_hms_opt(minute / 60, minute % 60, 0).expect("time"))
                .single()
                .expect("fixed offset");
            let status = pick(&mut self.rng, &[("pending", 40), ("confirmed", 60)]);
            let party = self.party(persona);
            let store = self.other_store(home, away);
            self.add_reservation(p, store, reserved_for, party, status, None);
        }
    }

    /// Adds a reservation item. `source`: `Some(true)` forces yiding, `Some(false)` local.
    fn add_reservation(
        &mut self,
        p: usize,
        store: usize,
        reserved_for: DateTime<FixedOffset>,
        party: u32,
        status: &'static str,
        source: Option<bool>,
    ) {
        let yiding = source.unwrap_or_else(|| self.chance(0.35));
        let lead = minutes(self.rng.gen_range(90..7 * 24 * 60));
        let created = (reserved_for - lead).min(self.now - minutes(self.rng.gen_range(1..180)));
        let after = |m: i64| reserved_for + minutes(m);
        let updated = match status {
            "completed" => after(self.rng.gen_range(60..150)),
            "arrived" => after(self.rng.gen_range(-10..10)),
            "no_show" => after(self.rng.gen_range(30..90)),
            "cancelled" => {
                let span = (reserved_for - created).num_minutes().max(2);
                created + minutes(self.rng.gen_range(1..span))
            }
            "confirmed" => created + minutes(self.rng.gen_range(2..120)),
            _ => created,
        }
        .min(self.now)
        .max(created);
        let style = if yiding {
            self.time_style([40, 60, 0, 0])
        } else {
            self.time_style([85, 12, 3, 0])
        };
        let id = if yiding {
            self.fresh_id(|rng| format!("rsv-yd-{:012x}", rng.gen::<u64>() & 0xFFFF_FFFF_FFFF))
        } else {
            self.fresh_id(|rng| format!("rsv-{:016x}", rng.gen::<u64>()))
        };
        let mut item = Item::new();
        item.insert("reservation_id".into(), s(id));
        item.insert("store_id".into(), s(self.stores[store].clone()));
        let (phone, member) = if yiding {
            let raw = self.people[p].phone.clone();
            (Some(self.spell(&raw)), None)
        } else {
            let ids = match self.ids_for(p, true) {
                // App bookings by members sometimes carry only the member id.
                Ids::Both if self.chance(0.15) => Ids::Member,
                ids => ids,
            };
            self.phone_and_member(p, ids)
        };
        if let Some(phone) = phone {
            item.insert("customer_phone".into(), s(phone));
        }
        if let Some(member) = member {
            item.insert("member_id".into(), s(member));
        }
        if yiding || self.chance(0.9) {
            item.insert("customer_name".into(), s(self.people[p].name.clone()));
        } else if self.chance(0.5) {
            item.insert("customer_name".into(), AttributeValue::Null(true));
        }
        item.insert("party_size".into(), num(party));
        item.insert(
            "reserved_for".into(),
            s(Self::fmt_time(reserved_for, style)),
        );
        item.insert("status".into(), s(status));
        if yiding {
            item.insert("source".into(), s("yiding"));
            let external = self
                .fresh_id(|rng| format!("YD{}", rng.gen_range(1_000_000_000..10_000_000_000u64)));
            item.insert("external_id".into(), s(external));
        } else {
            item.insert("source".into(), s("local"));
        }
        item.insert("created_at".into(), s(Self::fmt_time(created, style)));
        item.insert("updated_at".into(), s(Self::fmt_time(updated, style)));
        self.reservations.push((created, item));
    }

    /// 张三: a scripted weekly regular at the home store.
    fn seed_customer_records(&mut self, p: usize) {
        let home = self.people[p].home;
        let first = 182.0_f64.min(self.hist - 1.0);
        let mut days = Vec::new();
        let mut t = first;
        while t >= 2.0 {
            days.push(t);
            t -= self.uniform(6.0, 8.0);
        }
        if days.last().is_none_or(|&d| d > 4.0) {
            days.push(2.0);
        }
        let n = days.len();
        let plain = SEED_PHONE.to_string();
        let spelled = "+86 138-0013-8000".to_string();
        let member = SEED_MEMBER_ID.to_string();
        let mut booked = 0;
        for (i, &d) in days.iter().enumerate() {
            let order_type = if i == n - 1 || i % 5 == 0 {
                "dine_in"
            } else {
                pick(
                    &mut self.rng,
                    &[("dine_in", 75), ("delivery", 15), ("pickup", 10)],
                )
            };
            let store = if i % 9 == 4 && self.stores.len() > 1 {
                (home + 1) % self.stores.len()
            } else {
                home
            };
            let minute = self.meal_minute(order_type);
            let mut visit = self.at(d, minute);
            let party = self.party(Persona::Seed);
            let status = if i == 5 {
                "cancelled"
            } else if i == n - 1 {
                "paid"
            } else {
                "completed"
            };
            let ids = match i % 4 {
                0 => (Some(plain.clone()), None),
                1 if order_type != "delivery" => (None, Some(member.clone())),
                2 => (Some(spelled.clone()), None),
                _ => (Some(plain.clone()), Some(member.clone())),
            };
            if order_type == "dine_in" && booked < 6 && i % 4 == 3 {
                let reserved_for = round_to_half_hour(visit);
                let res_status = if booked == 2 { "arrived" } else { "completed" };
                self.add_reservation(
                    p,
                    store,
                    reserved_for,
                    party,
                    res_status,
                    Some(booked % 3 == 1),
                );
                visit = (reserved_for + minutes(self.rng.gen_range(5..30))).min(self.now);
                booked += 1;
            }
            self.add_order(p, store, order_type, visit, party, Some(status), Some(ids));
        }
        // Fill up to 6 kept bookings, then one cancelled and one ahead: 8 in all.
        while booked < 6 {
            let d = days[self.rng.gen_range(0..n)] + 0.5;
            let when = round_to_half_hour(self.at(d, 18 * 60));
            self.add_reservation(p, home, when, 2, "completed", Some(false));
            booked += 1;
        }
        let when = round_to_half_hour(self.at(40.0, 18 * 60 + 15));
        self.add_reservation(p, home, when, 4, "cancelled", Some(false));
        let date = self.now.date_naive() + Duration::days(3);
        let ahead = self
            .tz
            .from_local_datetime(&date.and_hms_opt(18, 30, 0).expect("time"))
            .single()
            .expect("fixed offset");
        self.add_reservation(p, home, ahead, 4, "confirmed", Some(false));
        // The POS settles the 15 most recent eligible orders, and only those.
        let mut settled = 0;
        for o in self.orders.iter_mut().rev() {
            if o.person != Some(p) {
                continue;
            }
            let eligible = o.order_type != "delivery" && matches!(o.status, "paid" | "completed");
            o.pos = Some(eligible && settled < 15);
            if eligible && settled < 15 {
                settled += 1;
            }
        }
    }

    /// A walk-in paid in cash: an order and a POS record with no identifiers at all.
    fn anonymous_order(&mut self) {
        let store = self.rng.gen_range(0..self.stores.len());
        let created = self.at(12.0, 12 * 60 + 20);
        let updated = self.updated_after(created, "completed", "dine_in");
        let lines = self.lines("dine_in", 2, false);
        let total_fen = lines.iter().map(|&(d, q)| MENU[d].fen * q as i64).sum();
        self.orders.push(OrderDraft {
            person: None,
            store,
            order_type: "dine_in",
            status: "completed",
            created,
            updated,
            lines,
            total_fen,
            phone: None,
            member_id: None,
            name: None,
            with_items: true,
            style: TimeStyle::Offset,
            pos: Some(true),
            number: String::new(),
        });
    }

    /// Sorts orders by time and numbers them per local day: `ORD20260218001`.
    fn number_orders(&mut self) {
        self.orders.sort_by_key(|o| o.created);
        let mut day = None;
        let mut seq = 0;
        for o in &mut self.orders {
            let date = o.created.date_naive();
            if day != Some(date) {
                day = Some(date);
                seq = 0;
            }
            seq += 1;
            o.number = format!("ORD{}{seq:03}", date.format("%Y%m%d"));
        }
    }

    // -- POS ------------------------------------------------------------------------

    fn pos_transactions(&mut self) {
        for i in 0..self.orders.len() {
            let o = &self.orders[i];
            let (order_type, status, pos, person) = (o.order_type, o.status, o.pos, o.person);
            if order_type == "delivery" {
                continue; // paid on the delivery platform
            }
            let (rate, pos_status) = match status {
                "paid" | "completed" => (0.85, "success"),
                "refunded" => (0.8, "refunded"),
                "cancelled" => (0.1, "voided"),
                _ => (0.0, ""),
            };
            let settle = match pos {
                Some(forced) => forced,
                None => self.chance(rate),
            };
            if !settle || pos_status.is_empty() {
                continue;
            }
            let o = &self.orders[i];
            let (created, total, store) = (o.created, o.total_fen, o.store);
            let (order_phone, order_member) = (o.phone.is_some(), o.member_id.is_some());
            let number = o.number.clone();
            let delay = if order_type == "dine_in" {
                minutes(self.rng.gen_range(35..110))
            } else {
                minutes(self.rng.gen_range(0..10))
            } + Duration::seconds(self.rng.gen_range(0..60));
            let at = (created + delay).min(self.now).max(created);
            // Which identifiers the till captured.
            let (phone, member) = match person {
                None => (None, None),
                Some(p) => {
                    let is_member = self.people[p].member.is_some();
                    let ids = match (order_phone, order_member) {
                        (true, true) => pick(
                            &mut self.rng,
                            &[(Ids::Both, 50), (Ids::Phone, 25), (Ids::Member, 25)],
                        ),
                        (false, true) => Ids::Member,
                        _ if is_member && self.chance(0.3) => Ids::Member,
                        _ => Ids::Phone,
                    };
                    self.phone_and_member(p, ids)
                }
            };
            let with_number = self.chance(0.92);
            let is_member = member.is_some();
            let split = is_member
                && pos.is_none()
                && pos_status == "success"
                && total > 10_000
                && self.chance(0.05);
            let method = if is_member && self.chance(0.2) {
                "member_balance"
            } else if person.is_none() {
                "cash"
            } else {
                pick(
                    &mut self.rng,
                    &[("wechat", 50), ("alipay", 30), ("card", 10), ("cash", 10)],
                )
            };
            let parts: Vec<(&str, i64)> = if split {
                let by_balance = self.rng.gen_range(1..total / 100) * 100;
                vec![
                    ("member_balance", by_balance),
                    ("wechat", total - by_balance),
                ]
            } else {
                vec![(method, total)]
            };
            let style = self.time_style([50, 45, 5, 0]);
            for (k, (method, amount)) in parts.into_iter().enumerate() {
                let id = self
                    .fresh_id(|rng| format!("PZ{}", rng.gen_range(10u64.pow(15)..10u64.pow(16))));
                let at = at + Duration::seconds(k as i64 * 40);
                let at = at.min(self.now);
                let mut item = Item::new();
                item.insert("transaction_id".into(), s(id));
                item.insert("store_id".into(), s(self.stores[store].clone()));
                if let Some(phone) = &phone {
                    item.insert("customer_phone".into(), s(phone.clone()));
                }
                if let Some(member) = &member {
                    item.insert("member_id".into(), s(member.clone()));
                }
                if with_number {
                    item.insert("order_number".into(), s(number.clone()));
                }
                item.insert("amount".into(), money(amount));
                item.insert("payment_method".into(), s(method));
                item.insert("status".into(), s(pos_status));
                item.insert("transacted_at".into(), s(Self::fmt_time(at, style)));
                self.pos.push((at, item));
            }
        }
    }

    // -- members and activities -----------------------------------------------------

    fn member_record(&mut self, p: usize) {
        let Some(m) = &self.people[p].member else {
            return;
        };
        let person = &self.people[p];
        let (member_id, email) = (m.member_id.clone(), m.email.clone());
        let (phone, name, home, persona, spent) = (
            person.phone.clone(),
            person.name.clone(),
            person.home,
            person.persona,
            person.spent_fen,
        );
        let first_visit = person.visits.iter().map(|v| v.0).min().unwrap_or(self.now);
        let mut item = Item::new();
        let (registered, level, points, balance_fen) = if persona == Persona::Seed {
            let date = self.now.date_naive() - Duration::days(186);
            let registered = self
                .tz
                .from_local_datetime(&date.and_hms_opt(14, 20, 0).expect("time"))
                .single()
                .expect("fixed offset");
            (registered, "金卡", 1500, 20_000)
        } else {
            let registered = if persona == Persona::Newcomer || self.chance(0.5) {
                first_visit + minutes(self.rng.gen_range(20..90))
            } else {
                first_visit - Duration::days(self.rng.gen_range(20..900))
            }
            .min(self.now - minutes(5));
            let yuan_spent = spent / 100;
            let level = match yuan_spent {
                _ if self.chance(0.1) => {
                    pick(&mut self.rng, &[("普通卡", 2), ("银卡", 2), ("金卡", 1)])
                }
                0..=1499 => "普通卡",
                1500..=3999 => "银卡",
                4000..=9999 => "金卡",
                _ => "钻石卡",
            };
            let points =
                (yuan_spent as f64 * self.uniform(0.3, 1.0)) as i64 + self.rng.gen_range(0..300);
            let balance = if self.chance(0.45) {
                0
            } else {
                self.rng.gen_range(1_000..150_000)
            };
            (registered, level, points, balance)
        };
        item.insert("member_id".into(), s(member_id));
        let spelled = if persona == Persona::Seed || self.chance(0.9) {
            phone
        } else {
            self.spell(&phone)
        };
        item.insert("phone".into(), s(spelled));
        match email {
            Some(email) => {
                item.insert("email".into(), s(email));
            }
            None if self.chance(0.2) => {
                item.insert("email".into(), AttributeValue::Null(true));
            }
            None => {}
        }
        item.insert("name".into(), s(name));
        item.insert("level".into(), s(level));
        item.insert("points".into(), num(points));
        item.insert("balance".into(), money(balance_fen));
        if persona == Persona::Seed || self.chance(0.93) {
            item.insert("store_id".into(), s(self.stores[home].clone()));
        }
        let synced = (self.now - minutes(self.rng.gen_range(5..3 * 24 * 60))).max(registered);
        let style = self.time_style([90, 5, 5, 0]);
        let style = if persona == Persona::Seed {
            TimeStyle::Offset
        } else {
            style
        };
        item.insert("registered_at".into(), s(Self::fmt_time(registered, style)));
        item.insert("synced_at".into(), s(Self::fmt_time(synced, style)));
        self.members.push((registered, item));
    }

    fn add_activity(
        &mut self,
        p: usize,
        at: DateTime<FixedOffset>,
        action: &'static str,
        store: Option<usize>,
    ) {
        let is_member = self.people[p].member.is_some();
        let ids = if !is_member {
            Ids::Phone
        } else {
            pick(
                &mut self.rng,
                &[(Ids::Member, 55), (Ids::Both, 30), (Ids::Phone, 15)],
            )
        };
        let (phone, member) = self.phone_and_member(p, ids);
        let detail = match action {
            "login" => pick(
                &mut self.rng,
                &[("微信小程序登录", 60), ("APP登录", 25), ("会员H5登录", 15)],
            )
            .to_string(),
            "redeem_points" => {
                let (what, pts) = pick(
                    &mut self.rng,
                    &[
                        (("招牌小笼包兑换券", 200), 4),
                        (("酸梅汤一杯", 100), 4),
                        (("满100减20券", 500), 3),
                        (("北京烤鸭半只券", 1500), 1),
                    ],
                );
                format!("积分兑换：{what}，消耗{pts}积分")
            }
            "recharge" => {
                let (amount, bonus) = pick(
                    &mut self.rng,
                    &[
                        ((50_000, 5_000), 5),
                        ((100_000, 12_000), 3),
                        ((200_000, 30_000), 2),
                    ],
                );
                format!("储值充值 ¥{}，赠送 ¥{}", yuan(amount), yuan(bonus))
            }
            _ => pick(
                &mut self.rng,
                &[
                    ("领取优惠券：满200减30", 4),
                    ("领取优惠券：新客立减15元", 2),
                    ("领取优惠券：生日礼券 ¥50.00", 1),
                    ("领取优惠券：周三会员日8.8折", 3),
                ],
            )
            .to_string(),
        };
        let style = self.time_style([50, 10, 10, 30]);
        let mut item = Item::new();
        item.insert("log_id".into(), s(self.uuid()));
        if let Some(store) = store {
            item.insert("store_id".into(), s(self.stores[store].clone()));
        }
        if let Some(phone) = phone {
            item.insert("customer_phone".into(), s(phone));
        }
        if let Some(member) = member {
            item.insert("member_id".into(), s(member));
        }
        item.insert("action".into(), s(action));
        if self.chance(0.97) {
            item.insert("detail".into(), s(detail));
        }
        item.insert("created_at".into(), s(Self::fmt_time(at, style)));
        self.activities.push((at, item));
    }

    fn activity_records(&mut self, p: usize) {
        let persona = self.people[p].persona;
        let visits = self.people[p].visits.clone();
        let is_member = self.people[p].member.is_some();
        let Some(first) = visits.iter().map(|v| v.0).min() else {
            return;
        };
        let last = visits.iter().map(|v| v.0).max().unwrap_or(first);
        if !is_member {
            // Coupons claimed with a phone number on the mini-program.
            for &(visit, store) in &visits {
                if self.chance(0.08) {
                    let at = visit - minutes(self.rng.gen_range(30..3 * 24 * 60));
                    self.add_activity(p, at, "coupon_claimed", Some(store));
                }
            }
            return;
        }
        if persona == Persona::Seed {
            return self.seed_activities(p, first);
        }
        // App logins over the active span.
        let start = first - Duration::days(self.rng.gen_range(0..10));
        let end = (last + Duration::days(self.rng.gen_range(0..8))).min(self.now);
        let (lo, hi) = persona.login_every();
        let mut t = start + Duration::hours(self.rng.gen_range(1..48));
        while t < end {
            let minute = self.rng.gen_range(8 * 60..23 * 60);
            let at = self.at_local(t, minute).min(self.now);
            self.add_activity(p, at, "login", None);
            t += Duration::minutes((self.uniform(lo, hi) * 24.0 * 60.0) as i64);
        }
        for &(visit, store) in &visits {
            if self.chance(0.25) {
                let at = visit - minutes(self.rng.gen_range(30..3 * 24 * 60));
                let store = if self.chance(0.5) { Some(store) } else { None };
                self.add_activity(p, at, "coupon_claimed", store);
            }
            if self.chance(0.1) {
                let at = (visit + minutes(self.rng.gen_range(5..60))).min(self.now);
                self.add_activity(p, at, "redeem_points", Some(store));
            }
            if self.chance(0.05) {
                let at = (visit + minutes(self.rng.gen_range(30..100))).min(self.now);
                self.add_activity(p, at, "recharge", Some(store));
            }
        }
    }

    /// 张三's 50 activities, the last one yesterday.
    fn seed_activities(&mut self, p: usize, first: DateTime<FixedOffset>) {
        let home = self.people[p].home;
        let span = (self.now - first).num_minutes().max(1);
        let actions: [(&'static str, usize); 4] = [
            ("login", 34),
            ("coupon_claimed", 8),
            ("redeem_points", 4),
            ("recharge", 3),
        ];
        for (action, count) in actions {
            for _ in 0..count {
                let at = first + minutes(self.rng.gen_range(0..span));
                let at = at.min(self.now - Duration::hours(30));
                let store = match action {
                    "login" => None,
                    _ => Some(home),
                };
                self.add_activity(p, at, action, store);
            }
        }
        let yesterday = self.now - Duration::hours(self.rng.gen_range(20..28));
        self.add_activity(p, yesterday, "login", None);
    }

    /// The same local day as `t`, at `minute_of_day`.
    fn at_local(&mut self, t: DateTime<FixedOffset>, minute_of_day: u32) -> DateTime<FixedOffset> {
        let second = self.rng.gen_range(0..60);
        let naive = t
            .date_naive()
            .and_hms_opt(minute_of_day / 60, minute_of_day % 60, second)
            .expect("valid time of day");
        self.tz
            .from_local_datetime(&naive)
            .single()
            .expect("fixed offset")
    }

    // -- output -----------------------------------------------------------------------

    fn finish(mut self) -> DemoData {
        let mut orders = Vec::with_capacity(self.orders.len());
        let mut order_ids = Vec::with_capacity(self.orders.len());
        for _ in 0..self.orders.len() {
            order_ids.push(self.uuid());
        }
        for (o, order_id) in self.orders.iter().zip(order_ids) {
            let mut item = Item::new();
            item.insert("order_id".into(), s(order_id));
            item.insert("order_number".into(), s(o.number.clone()));
            item.insert("store_id".into(), s(self.stores[o.store].clone()));
            if let Some(phone) = &o.phone {
                item.insert("customer_phone".into(), s(phone.clone()));
            }
            match &o.member_id {
                Some(member) => {
                    item.insert("member_id".into(), s(member.clone()));
                }
                // Some writers put NULL rather than leaving the attribute out.
                None if o.person.is_some() && o.total_fen % 7 == 0 => {
                    item.insert("member_id".into(), AttributeValue::Null(true));
                }
                None => {}
            }
            if let Some(name) = &o.name {
                item.insert("customer_name".into(), s(name.clone()));
            }
            item.insert("order_type".into(), s(o.order_type));
            item.insert("status".into(), s(o.status));
            item.insert("total".into(), money(o.total_fen));
            if o.with_items {
                let lines = o
                    .lines
                    .iter()
                    .map(|&(d, qty)| {
                        let dish = &MENU[d];
                        AttributeValue::M(HashMap::from([
                            ("dish_id".to_string(), s(dish.id)),
                            ("name".to_string(), s(dish.name)),
                            ("quantity".to_string(), num(qty)),
                            ("price".to_string(), money(dish.fen)),
                        ]))
                    })
                    .collect();
                item.insert("items".into(), AttributeValue::L(lines));
            }
            item.insert("created_at".into(), s(Self::fmt_time(o.created, o.style)));
            item.insert("updated_at".into(), s(Self::fmt_time(o.updated, o.style)));
            orders.push(item);
        }
        let sorted = |mut v: Vec<(DateTime<FixedOffset>, Item)>| -> Vec<Item> {
            v.sort_by_key(|(t, _)| *t);
            v.into_iter().map(|(_, item)| item).collect()
        };
        DemoData {
            orders,
            reservations: sorted(std::mem::take(&mut self.reservations)),
            pos_transactions: sorted(std::mem::take(&mut self.pos)),
            members: sorted(std::mem::take(&mut self.members)),
            activities: sorted(std::mem::take(&mut self.activities)),
        }
    }
}

fn round_to_half_hour(t: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
    use chrono::Timelike;
    let minute = if t.minute() < 30 { 0 } else { 30 };
    t.with_minute(minute)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .expect("valid time")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MotoServer;
    use chrono::NaiveDateTime;
    use std::collections::BTreeMap;
    use std::sync::OnceLock;

    fn now() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2026-02-20T17:00:00+08:00").unwrap()
    }

    fn config() -> DemoConfig {
        DemoConfig::new(42, now())
    }

    /// The default-sized data set, generated once for all tests.
    fn data() -> &'static DemoData {
        static DATA: OnceLock<DemoData> = OnceLock::new();
        DATA.get_or_init(|| generate(&config()))
    }

    fn str_of<'a>(item: &'a Item, key: &str) -> Option<&'a str> {
        match item.get(key) {
            Some(AttributeValue::S(v)) => Some(v),
            _ => None,
        }
    }

    fn num_of<'a>(item: &'a Item, key: &str) -> Option<&'a str> {
        match item.get(key) {
            Some(AttributeValue::N(v)) => Some(v),
            _ => None,
        }
    }

    fn fen_of(item: &Item, key: &str) -> i64 {
        let v = num_of(item, key).unwrap_or_else(|| panic!("{key} missing in {item:?}"));
        assert!(is_money(v), "{key} = {v:?}");
        let (y, f) = v.split_once('.').unwrap();
        y.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap()
    }

    /// `^\d+\.\d{2}$`
    fn is_money(v: &str) -> bool {
        match v.split_once('.') {
            Some((y, f)) => {
                !y.is_empty()
                    && y.bytes().all(|b| b.is_ascii_digit())
                    && f.len() == 2
                    && f.bytes().all(|b| b.is_ascii_digit())
            }
            None => false,
        }
    }

    fn normalize_phone(raw: &str) -> String {
        let digits: String = raw.chars().filter(|c| c.is_ascii_digit()).collect();
        match digits.strip_prefix("86") {
            Some(rest) if digits.len() == 13 => rest.to_string(),
            _ => digits,
        }
    }

    fn is_mobile(phone: &str) -> bool {
        phone.len() == 11
            && phone.bytes().all(|b| b.is_ascii_digit())
            && ["13", "15", "17", "18", "19"]
                .iter()
                .any(|p| phone.starts_with(p))
    }

    /// Parses an RFC 3339 time, or a naive one as +08:00 local time.
    fn parse_time(v: &str) -> Option<DateTime<FixedOffset>> {
        DateTime::parse_from_rfc3339(v).ok().or_else(|| {
            NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .and_then(|n| shanghai().from_local_datetime(&n).single())
        })
    }

    const TIME_KEYS: [&str; 7] = [
        "created_at",
        "updated_at",
        "reserved_for",
        "transacted_at",
        "registered_at",
        "synced_at",
        "timestamp",
    ];

    const ID_KEYS: [&str; 5] = [
        "order_id",
        "reservation_id",
        "transaction_id",
        "member_id",
        "log_id",
    ];

    fn all_items(data: &DemoData) -> impl Iterator<Item = (&'static str, &Item)> {
        data.tables()
            .into_iter()
            .flat_map(|(source, items)| items.iter().map(move |i| (source, i)))
    }

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        let a = generate(&config());
        assert_eq!(&a, data());
        let other = generate(&DemoConfig::new(43, now()));
        assert_ne!(a.orders, other.orders);
        // `now` in another offset is the same instant: same data.
        let utc_now = now().with_timezone(&FixedOffset::east_opt(0).unwrap());
        assert_eq!(generate(&DemoConfig::new(42, utc_now)), a);
    }

    #[test]
    fn volume_is_in_range() {
        let d = data();
        let counts: Vec<_> = d.tables().iter().map(|(s, i)| (*s, i.len())).collect();
        println!("items: {} {counts:?}", d.len());
        assert!((10_000..=20_000).contains(&d.len()), "{} items", d.len());
        assert!(!d.is_empty());
        assert!(d.tables().iter().all(|(_, items)| !items.is_empty()));
        assert_eq!(d.tables().map(|(s, _)| s), SOURCES);
    }

    #[test]
    fn stores_and_customers() {
        let d = data();
        let stores: HashSet<&str> = all_items(d)
            .filter_map(|(_, i)| str_of(i, "store_id"))
            .collect();
        assert_eq!(stores.len(), 3, "{stores:?}");
        let mut phones = HashSet::new();
        for (_, item) in all_items(d) {
            for key in ["customer_phone", "phone"] {
                if let Some(raw) = str_of(item, key) {
                    let phone = normalize_phone(raw);
                    assert!(is_mobile(&phone), "{raw:?}");
                    phones.insert(phone);
                }
            }
        }
        assert_eq!(phones.len(), 500);
        // Every kind of spelling occurs.
        let spellings: Vec<&str> = all_items(d)
            .filter_map(|(_, i)| str_of(i, "customer_phone"))
            .collect();
        assert!(spellings.iter().any(|p| p.starts_with("+86 ")));
        assert!(spellings.iter().any(|p| p.starts_with("86-")));
        assert!(spellings
            .iter()
            .any(|p| p.len() == 13 && p.as_bytes()[3] == b'-'));
        let plain = spellings.iter().filter(|p| p.len() == 11).count();
        assert!(plain * 10 > spellings.len() * 7, "mostly plain");
        // Chinese names.
        for m in &d.members {
            let name = str_of(m, "name").unwrap();
            let n = name.chars().count();
            assert!((2..=4).contains(&n), "{name}");
            assert!(
                name.chars().all(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{name}"
            );
        }
    }

    #[test]
    fn small_and_odd_configs_work() {
        for (customers, days, stores) in [
            (0, 365, 3),
            (1, 365, 3),
            (7, 30, 1),
            (40, 2, 2),
            (60, 1000, 5),
        ] {
            let mut c = config();
            c.customers = customers;
            c.days_of_history = days;
            c.stores = (0..stores).map(|i| format!("store_{i}")).collect();
            let d = generate(&c);
            let phones: HashSet<String> = all_items(&d)
                .filter_map(|(_, i)| str_of(i, "customer_phone").or(str_of(i, "phone")))
                .map(normalize_phone)
                .collect();
            assert_eq!(phones.len(), customers, "{customers} customers");
        }
        let mut c = config();
        c.stores.clear();
        assert_eq!(generate(&c), *data(), "empty store list means the default");
    }

    #[test]
    fn every_order_type_and_status() {
        let d = data();
        let types: HashSet<&str> = d
            .orders
            .iter()
            .filter_map(|o| str_of(o, "order_type"))
            .collect();
        assert_eq!(types, HashSet::from(["dine_in", "delivery", "pickup"]));
        let mut statuses: BTreeMap<&str, usize> = BTreeMap::new();
        for o in &d.orders {
            *statuses.entry(str_of(o, "status").unwrap()).or_default() += 1;
        }
        assert_eq!(statuses.len(), 5, "{statuses:?}");
        let counted = statuses["completed"] + statuses["paid"];
        assert!(counted * 10 > d.orders.len() * 8, "{statuses:?}");
        let numbers: HashSet<&str> = d
            .orders
            .iter()
            .map(|o| str_of(o, "order_number").unwrap())
            .collect();
        assert_eq!(numbers.len(), d.orders.len());
        for o in &d.orders {
            let number = str_of(o, "order_number").unwrap();
            let created = parse_time(str_of(o, "created_at").unwrap()).unwrap();
            let day = created
                .with_timezone(&shanghai())
                .format("%Y%m%d")
                .to_string();
            assert!(
                number.starts_with(&format!("ORD{day}")),
                "{number} {created}"
            );
            assert_eq!(number.len(), 14);
            let updated = parse_time(str_of(o, "updated_at").unwrap()).unwrap();
            assert!(updated >= created);
            if let Some(AttributeValue::L(lines)) = o.get("items") {
                assert!(!lines.is_empty());
                let mut sum = 0;
                for line in lines {
                    let AttributeValue::M(m) = line else {
                        panic!("{line:?}")
                    };
                    assert!(str_of(m, "dish_id").is_some() && str_of(m, "name").is_some());
                    let qty: i64 = num_of(m, "quantity").unwrap().parse().unwrap();
                    sum += qty * fen_of(m, "price");
                }
                let total = fen_of(o, "total");
                let fee = if str_of(o, "order_type") == Some("delivery") {
                    DELIVERY_FEE_FEN
                } else {
                    0
                };
                assert_eq!(sum + fee, total);
            }
        }
    }

    #[test]
    fn reservations_pos_and_activities_vary() {
        let d = data();
        let set = |items: &[Item], key: &str| -> HashSet<String> {
            items
                .iter()
                .filter_map(|i| str_of(i, key))
                .map(str::to_string)
                .collect()
        };
        let sources = set(&d.reservations, "source");
        assert_eq!(sources, HashSet::from(["local".into(), "yiding".into()]));
        for r in &d.reservations {
            let yiding = str_of(r, "source") == Some("yiding");
            assert_eq!(yiding, str_of(r, "external_id").is_some());
            let party: u32 = num_of(r, "party_size").unwrap().parse().unwrap();
            assert!((1..=20).contains(&party));
            let at = parse_time(str_of(r, "reserved_for").unwrap()).unwrap();
            let status = str_of(r, "status").unwrap();
            if at > now() {
                assert!(matches!(status, "pending" | "confirmed"), "{status} ahead");
            } else {
                assert!(
                    !matches!(status, "pending" | "confirmed"),
                    "{status} in the past"
                );
            }
        }
        assert_eq!(set(&d.reservations, "status").len(), 6);
        assert_eq!(
            set(&d.pos_transactions, "status"),
            HashSet::from(["success".into(), "refunded".into(), "voided".into()])
        );
        assert_eq!(set(&d.pos_transactions, "payment_method").len(), 5);
        assert_eq!(
            set(&d.activities, "action"),
            HashSet::from([
                "login".into(),
                "redeem_points".into(),
                "recharge".into(),
                "coupon_claimed".into()
            ])
        );
        assert_eq!(set(&d.members, "level").len(), 4);
        // POS order numbers settle real orders, never more than their total.
        let totals: HashMap<&str, i64> = d
            .orders
            .iter()
            .map(|o| (str_of(o, "order_number").unwrap(), fen_of(o, "total")))
            .collect();
        let mut paid: HashMap<&str, i64> = HashMap::new();
        for t in &d.pos_transactions {
            if let Some(number) = str_of(t, "order_number") {
                assert!(totals.contains_key(number), "{number}");
                *paid.entry(number).or_default() += fen_of(t, "amount");
            }
        }
        assert!(paid.iter().all(|(n, fen)| *fen <= totals[n]));
        assert!(paid.len() * 2 > d.pos_transactions.len());
    }

    #[test]
    fn money_and_times_are_well_formed() {
        let d = data();
        let mut styles = [0usize; 3]; // offset, Z, naive
        for (source, item) in all_items(d) {
            for key in ["total", "amount", "balance"] {
                if item.contains_key(key) {
                    fen_of(item, key);
                }
            }
            for key in TIME_KEYS {
                if let Some(v) = str_of(item, key) {
                    let t = parse_time(v).unwrap_or_else(|| panic!("{source}.{key} = {v:?}"));
                    if key != "reserved_for" {
                        assert!(t <= now(), "{source}.{key} = {v} is after now");
                    }
                    assert!(t > now() - Duration::days(365 * 4), "{source}.{key} = {v}");
                    let i = if v.ends_with("+08:00") {
                        0
                    } else if v.ends_with('Z') {
                        1
                    } else {
                        2
                    };
                    styles[i] += 1;
                }
            }
            if let Some(v) = num_of(item, "points") {
                assert!(v.parse::<u64>().is_ok(), "{v}");
            }
        }
        assert!(
            styles[0] > styles[2] && styles[2] > 0 && styles[1] > 0,
            "{styles:?}"
        );
        // Order times lie within the history.
        for o in &d.orders {
            let t = parse_time(str_of(o, "created_at").unwrap()).unwrap();
            assert!(t >= now() - Duration::days(366), "{t}");
        }
    }

    #[test]
    fn ids_are_unique_per_table() {
        let d = data();
        for (source, items) in d.tables() {
            let key = ID_KEYS[SOURCES.iter().position(|s| *s == source).unwrap()];
            let ids: HashSet<&str> = items.iter().map(|i| str_of(i, key).unwrap()).collect();
            assert_eq!(ids.len(), items.len(), "{source}.{key}");
        }
        for m in &d.members {
            let id = str_of(m, "member_id").unwrap();
            assert!(
                id.len() == 7 && id.starts_with('M') && id[1..].bytes().all(|b| b.is_ascii_digit())
            );
        }
        let emails: Vec<String> = d
            .members
            .iter()
            .filter_map(|m| str_of(m, "email"))
            .map(str::to_ascii_lowercase)
            .collect();
        assert_eq!(emails.iter().collect::<HashSet<_>>().len(), emails.len());
        assert!(d
            .members
            .iter()
            .filter_map(|m| str_of(m, "email"))
            .any(|e| e != e.to_ascii_lowercase()));
    }

    #[test]
    fn few_records_belong_to_nobody() {
        let d = data();
        let anonymous = all_items(d)
            .filter(|(_, i)| {
                ["customer_phone", "phone", "member_id", "email"]
                    .iter()
                    .all(|k| str_of(i, k).is_none())
            })
            .count();
        assert!((1..=3).contains(&anonymous), "{anonymous}");
    }

    #[test]
    fn seed_customer_is_there() {
        let d = data();
        let member = d
            .members
            .iter()
            .find(|m| str_of(m, "member_id") == Some(SEED_MEMBER_ID))
            .expect("M123456");
        assert_eq!(str_of(member, "phone"), Some(SEED_PHONE));
        assert_eq!(str_of(member, "name"), Some("张三"));
        assert_eq!(str_of(member, "level"), Some("金卡"));
        assert_eq!(num_of(member, "points"), Some("1500"));
        assert_eq!(num_of(member, "balance"), Some("200.00"));
        assert_eq!(str_of(member, "email"), Some("zhangsan@example.com"));
        assert_eq!(str_of(member, "store_id"), Some("store_sh_001"));
        let registered = parse_time(str_of(member, "registered_at").unwrap()).unwrap();
        assert!((180..200).contains(&(now() - registered).num_days()));
        // Nobody else is 张三 or has that phone.
        assert_eq!(
            d.members
                .iter()
                .filter(|m| str_of(m, "name") == Some("张三"))
                .count(),
            1
        );

        let mine = |i: &Item| {
            str_of(i, "member_id") == Some(SEED_MEMBER_ID)
                || str_of(i, "customer_phone").map(normalize_phone).as_deref() == Some(SEED_PHONE)
        };
        let orders: Vec<&Item> = d.orders.iter().filter(|o| mine(o)).collect();
        let counted: Vec<&&Item> = orders
            .iter()
            .filter(|o| matches!(str_of(o, "status"), Some("paid" | "completed")))
            .collect();
        let spent: i64 = counted.iter().map(|o| fen_of(o, "total")).sum();
        println!(
            "张三: {} orders, {} counted, ¥{}",
            orders.len(),
            counted.len(),
            yuan(spent)
        );
        assert!((20..=30).contains(&counted.len()));
        assert!((200_000..1_000_000).contains(&spent), "{spent}");
        assert!(orders
            .iter()
            .any(|o| str_of(o, "customer_phone") == Some("+86 138-0013-8000")));
        assert!(orders.iter().any(|o| str_of(o, "customer_phone").is_none()));
        assert!(orders.iter().any(|o| str_of(o, "member_id").is_none()));
        assert!(orders
            .iter()
            .any(|o| str_of(o, "customer_phone").is_some() && str_of(o, "member_id").is_some()));

        let reservations: Vec<&Item> = d.reservations.iter().filter(|r| mine(r)).collect();
        let kept = reservations
            .iter()
            .filter(|r| matches!(str_of(r, "status"), Some("completed" | "arrived")))
            .count();
        assert_eq!(reservations.len(), 8);
        assert!(kept >= 5);
        assert_eq!(d.pos_transactions.iter().filter(|t| mine(t)).count(), 15);
        let activities: Vec<&Item> = d.activities.iter().filter(|a| mine(a)).collect();
        assert_eq!(activities.len(), 50);
        let last = activities
            .iter()
            .chain(orders.iter())
            .filter_map(|i| str_of(i, "created_at").and_then(parse_time))
            .max()
            .unwrap();
        assert!(now() - last < Duration::days(7));
        let last_order = orders
            .iter()
            .filter_map(|i| str_of(i, "created_at").and_then(parse_time))
            .max()
            .unwrap();
        assert!(now() - last_order < Duration::days(7));
    }

    #[derive(Default, Debug)]
    struct Stats {
        orders: usize,
        spent: i64,
        first: Option<DateTime<FixedOffset>>,
        last_order: Option<DateTime<FixedOffset>>,
        last_any: Option<DateTime<FixedOffset>>,
        kept_reservations: usize,
        stores: HashSet<String>,
    }

    /// Per-customer figures the way the service computes them (simplified).
    fn stats(d: &DemoData) -> HashMap<String, Stats> {
        let phone_of: HashMap<&str, String> = d
            .members
            .iter()
            .map(|m| {
                (
                    str_of(m, "member_id").unwrap(),
                    normalize_phone(str_of(m, "phone").unwrap()),
                )
            })
            .collect();
        let who = |i: &Item| -> Option<String> {
            str_of(i, "customer_phone")
                .map(normalize_phone)
                .or_else(|| str_of(i, "member_id").map(|m| phone_of[m].clone()))
        };
        let mut out: HashMap<String, Stats> = HashMap::new();
        for (source, item) in all_items(d) {
            let Some(customer) = who(item).or_else(|| str_of(item, "phone").map(normalize_phone))
            else {
                continue;
            };
            let s = out.entry(customer).or_default();
            let key = match source {
                "reservations" => "reserved_for",
                "pos_transactions" => "transacted_at",
                "member_sync" => "registered_at",
                _ => "created_at",
            };
            let t = parse_time(str_of(item, key).unwrap()).unwrap();
            if t <= now() {
                s.last_any = s.last_any.max(Some(t));
            }
            if let Some(store) = str_of(item, "store_id") {
                s.stores.insert(store.to_string());
            }
            match source {
                "orders" if matches!(str_of(item, "status"), Some("paid" | "completed")) => {
                    s.orders += 1;
                    s.spent += fen_of(item, "total");
                    s.first = Some(s.first.map_or(t, |f| f.min(t)));
                    s.last_order = s.last_order.max(Some(t));
                }
                "reservations"
                    if matches!(str_of(item, "status"), Some("completed" | "arrived")) =>
                {
                    s.kept_reservations += 1;
                }
                _ => {}
            }
        }
        out
    }

    #[test]
    fn behaviours_are_mixed() {
        let d = data();
        let stats = stats(d);
        assert_eq!(stats.len(), 500);
        let count = |f: &dyn Fn(&Stats) -> bool| stats.values().filter(|s| f(s)).count();
        let days = |t: Option<DateTime<FixedOffset>>| {
            t.map(|t| (now() - t).num_days()).unwrap_or(i64::MAX)
        };
        let freq = |s: &Stats| {
            let lifetime = days(s.first).max(30) as f64;
            s.orders as f64 / lifetime * 30.0
        };
        let high_ticket = count(&|s| s.orders > 0 && s.spent / s.orders as i64 >= 30_000);
        let frequent = count(&|s| freq(s) >= 4.0);
        let bookers = count(&|s| s.kept_reservations >= 5);
        let active = count(&|s| days(s.last_any) <= 30);
        let sleeping = count(&|s| (31..=90).contains(&days(s.last_any)));
        let lost = count(&|s| days(s.last_any) > 90);
        let churned = count(&|s| s.orders >= 5 && (120..=250).contains(&days(s.last_order)));
        let one_timers = count(&|s| s.orders == 1);
        let newcomers = count(&|s| s.orders > 0 && days(s.first) <= 30);
        let multi_store = count(&|s| s.stores.len() > 1);
        let members = d.members.len();
        println!(
            "high ticket {high_ticket}, frequent {frequent}, bookers {bookers}, active {active}, \
             sleeping {sleeping}, lost {lost}, churned {churned}, one-timers {one_timers}, \
             newcomers {newcomers}, multi-store {multi_store}, members {members}"
        );
        for (what, n) in [
            ("high ticket", high_ticket),
            ("frequent", frequent),
            ("bookers", bookers),
            ("active", active),
            ("sleeping", sleeping),
            ("lost", lost),
            ("churned", churned),
            ("one-timers", one_timers),
            ("newcomers", newcomers),
            ("multi-store", multi_store),
        ] {
            assert!(n >= 20, "{what}: {n}");
        }
        assert!((250..=350).contains(&members), "{members} members");
        // Members' orders carry only the member id, only the phone, or both.
        let member_only = d
            .orders
            .iter()
            .filter(|o| str_of(o, "member_id").is_some() && str_of(o, "customer_phone").is_none())
            .count();
        let phone_only = d
            .orders
            .iter()
            .filter(|o| str_of(o, "member_id").is_none() && str_of(o, "customer_phone").is_some())
            .count();
        let both = d
            .orders
            .iter()
            .filter(|o| str_of(o, "member_id").is_some() && str_of(o, "customer_phone").is_some())
            .count();
        assert!(member_only > 100 && phone_only > 100 && both > 100);
    }

    #[test]
    #[ignore]
    fn show_samples() {
        let d = data();
        for (source, items) in d.tables() {
            for i in [0, items.len() / 2, items.len() - 1] {
                let mut keys: Vec<_> = items[i].iter().collect();
                keys.sort_by_key(|(k, _)| k.as_str());
                println!("{source}: {keys:?}\n");
            }
        }
    }

    // ---------------------------------------------------------------- against moto

    async fn load_into_moto(config: &DemoConfig) -> anyhow::Result<()> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        };
        let Some(moto) = MotoServer::start()? else {
            return Ok(());
        };
        let client = moto.clients().0;
        let data = generate(config);
        let mut names: HashMap<&str, String> = HashMap::new();
        for (i, source) in SOURCES.iter().enumerate() {
            let table = format!("c360-demo-{source}");
            client
                .create_table()
                .table_name(&table)
                .billing_mode(BillingMode::PayPerRequest)
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(ID_KEYS[i])
                        .attribute_type(ScalarAttributeType::S)
                        .build()?,
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(ID_KEYS[i])
                        .key_type(KeyType::Hash)
                        .build()?,
                )
                .send()
                .await?;
            names.insert(source, table);
        }
        let started = std::time::Instant::now();
        let written = load(&client, &names, &data).await?;
        println!(
            "loaded {written} items into moto in {:?}",
            started.elapsed()
        );
        assert_eq!(written, data.len());
        for (i, (source, items)) in data.tables().into_iter().enumerate() {
            let mut count = 0;
            let mut pages = client
                .scan()
                .table_name(&names[source])
                .select(aws_sdk_dynamodb::types::Select::Count)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                count += page?.count() as usize;
            }
            assert_eq!(count, items.len(), "{source}");
            let first = &items[0];
            let got = client
                .get_item()
                .table_name(&names[source])
                .key(ID_KEYS[i], first[ID_KEYS[i]].clone())
                .send()
                .await?;
            assert_eq!(got.item(), Some(first), "{source} round trip");
        }
        // A source without a table name is refused before anything is written.
        names.remove("audit_log");
        let err = load(&client, &names, &data).await.unwrap_err();
        assert!(err.to_string().contains("audit_log"), "{err}");
        Ok(())
    }

    #[tokio::test]
    async fn load_writes_every_item_to_moto() -> anyhow::Result<()> {
        let mut config = config();
        config.customers = 40;
        load_into_moto(&config).await
    }

    /// The default volume, timed: `cargo test -p c360-devkit --lib demo -- --ignored --nocapture`.
    #[tokio::test]
    #[ignore]
    async fn load_default_volume_to_moto() -> anyhow::Result<()> {
        load_into_moto(&config()).await
    }

    #[test]
    fn generation_time() {
        let started = std::time::Instant::now();
        let d = generate(&config());
        println!("generated {} items in {:?}", d.len(), started.elapsed());
    }
}

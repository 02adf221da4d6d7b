//! The generator's state and the helpers every table uses: randomness, ids, stores,
//! the identifiers a record carries, attribute values; [`Gen::run`] drives the tables
//! in order and [`Gen::finish`] turns the drafts into items.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, FixedOffset};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};

use super::menu::{DishKind, MENU};
use super::orders::OrderDraft;
use super::people::{Person, Persona};
use super::{default_stores, shanghai, DemoConfig, DemoData, Item};

/// Mixed into the seed for [`Gen::birthday_rng`].
const BIRTHDAY_STREAM: u64 = 0xB1D7_4DA7;

/// Identifiers a record carries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Ids {
    Phone,
    Member,
    Both,
}

pub(super) struct Gen<'a> {
    pub(super) cfg: &'a DemoConfig,
    pub(super) rng: StdRng,
    /// Members' birthdays draw from their own stream, seeded from the same seed: adding them
    /// left every other record of a seed as it was (tests, benchmarks and docs were measured
    /// on the demo data).
    pub(super) birthday_rng: StdRng,
    /// Whether a member was born on 29 February yet (the first dated birthday is).
    pub(super) leap_day_given: bool,
    pub(super) tz: FixedOffset,
    pub(super) now: DateTime<FixedOffset>,
    /// Days of history, at least 2.
    pub(super) hist: f64,
    pub(super) stores: Vec<String>,
    pub(super) people: Vec<Person>,
    pub(super) orders: Vec<OrderDraft>,
    pub(super) reservations: Vec<(DateTime<FixedOffset>, Item)>,
    pub(super) pos: Vec<(DateTime<FixedOffset>, Item)>,
    pub(super) members: Vec<(DateTime<FixedOffset>, Item)>,
    pub(super) activities: Vec<(DateTime<FixedOffset>, Item)>,
    pub(super) used_ids: HashSet<String>,
    pub(super) mains: Vec<usize>,
    pub(super) premium: Vec<usize>,
    pub(super) staples: Vec<usize>,
    pub(super) dim_sum: Vec<usize>,
    pub(super) drinks: Vec<usize>,
    pub(super) rice: usize,
}

pub(super) fn pick<T: Copy>(rng: &mut StdRng, options: &[(T, u32)]) -> T {
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
pub(super) fn yuan(fen: i64) -> String {
    assert!(fen >= 0, "negative money: {fen}");
    format!("{}.{:02}", fen / 100, fen % 100)
}

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn num(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn money(fen: i64) -> AttributeValue {
    AttributeValue::N(yuan(fen))
}

pub(super) fn minutes(m: i64) -> Duration {
    Duration::minutes(m)
}

impl<'a> Gen<'a> {
    pub(super) fn new(cfg: &'a DemoConfig) -> Self {
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
            birthday_rng: StdRng::seed_from_u64(cfg.seed ^ BIRTHDAY_STREAM),
            leap_day_given: false,
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

    pub(super) fn run(mut self) -> DemoData {
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

    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p.clamp(0.0, 1.0))
    }

    pub(super) fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        if hi <= lo {
            lo
        } else {
            self.rng.gen_range(lo..hi)
        }
    }

    pub(super) fn fresh_id(&mut self, make: impl Fn(&mut StdRng) -> String) -> String {
        loop {
            let id = make(&mut self.rng);
            if self.used_ids.insert(id.clone()) {
                return id;
            }
        }
    }

    pub(super) fn uuid(&mut self) -> String {
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

    pub(super) fn other_store(&mut self, home: usize, away_rate: f64) -> usize {
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

    /// The phone the way a source system spells it.
    pub(super) fn spell(&mut self, phone: &str) -> String {
        let (a, b, c) = (&phone[0..3], &phone[3..7], &phone[7..11]);
        match pick(&mut self.rng, &[(0, 80), (1, 7), (2, 7), (3, 6)]) {
            1 => format!("+86 {a} {b} {c}"),
            2 => format!("86-{phone}"),
            3 => format!("{a}-{b}-{c}"),
            _ => phone.to_string(),
        }
    }

    pub(super) fn ids_for(&mut self, p: usize, phone_needed: bool) -> Ids {
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

    pub(super) fn phone_and_member(
        &mut self,
        p: usize,
        ids: Ids,
    ) -> (Option<String>, Option<String>) {
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

    pub(super) fn finish(mut self) -> DemoData {
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

//! The `orders` table: party sizes, item lines, statuses, one order per visit, the
//! walk-in nobody owns, and the per-day order numbers.

use chrono::{DateTime, Duration, FixedOffset};
use rand::seq::index::sample;
use rand::Rng;

use super::gen::{minutes, pick, Gen};
use super::menu::{DELIVERY_FEE_FEN, MENU};
use super::people::Persona;
use super::times::TimeStyle;

pub(super) struct OrderDraft {
    pub(super) person: Option<usize>,
    pub(super) store: usize,
    pub(super) order_type: &'static str,
    pub(super) status: &'static str,
    pub(super) created: DateTime<FixedOffset>,
    pub(super) updated: DateTime<FixedOffset>,
    pub(super) lines: Vec<(usize, u32)>,
    pub(super) total_fen: i64,
    pub(super) phone: Option<String>,
    pub(super) member_id: Option<String>,
    pub(super) name: Option<String>,
    pub(super) with_items: bool,
    pub(super) style: TimeStyle,
    /// Whether the POS settles it: `None` decides at random.
    pub(super) pos: Option<bool>,
    pub(super) number: String,
}

impl Gen<'_> {
    pub(super) fn party(&mut self, persona: Persona) -> u32 {
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

    /// A guest's usual mains: two of the menu's mains picked by their index (not by the
    /// random stream, so adding them left everyone else's draws where they were).
    fn usual_dishes(&self, p: usize) -> [usize; 2] {
        let n = self.mains.len().max(1);
        let a = (p * 7) % n;
        let b = (p * 13 + 3) % n;
        let b = if b == a { (a + 1) % n } else { b };
        [self.mains[a], self.mains[b]]
    }

    /// Regulars order their usual dishes: each one, when the order has mains, is on it with
    /// probability 0.75 (0.9 for 张三), in place of a main drawn at random. Without this the
    /// demo's favourite dishes were noise.
    fn with_usual_dishes(&mut self, p: usize, mut lines: Vec<(usize, u32)>) -> Vec<(usize, u32)> {
        let odds = if self.people[p].persona == Persona::Seed {
            0.9
        } else {
            0.75
        };
        for (k, usual) in self.usual_dishes(p).into_iter().enumerate() {
            let mains: Vec<usize> = (0..lines.len())
                .filter(|&i| self.mains.contains(&lines[i].0))
                .collect();
            if mains.is_empty() || lines.iter().any(|l| l.0 == usual) || !self.chance(odds) {
                continue;
            }
            // Replace the k-th main if there is one (so both usuals can be on one order).
            let at = mains[k.min(mains.len() - 1)];
            lines[at].0 = usual;
        }
        lines
    }

    pub(super) fn lines(&mut self, order_type: &str, party: u32, rich: bool) -> Vec<(usize, u32)> {
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

    pub(super) fn order_status(&mut self, created: DateTime<FixedOffset>) -> &'static str {
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

    pub(super) fn updated_after(
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
    pub(super) fn add_order(
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
        let lines = self.with_usual_dishes(p, lines);
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

    /// A walk-in paid in cash: an order and a POS record with no identifiers at all.
    pub(super) fn anonymous_order(&mut self) {
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
    pub(super) fn number_orders(&mut self) {
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
}

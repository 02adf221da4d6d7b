//! The `pos_transactions` table: the payments that settle orders.

use chrono::Duration;
use rand::Rng;

use super::gen::{minutes, money, pick, s, Gen, Ids};
use super::Item;

impl Gen<'_> {
    pub(super) fn pos_transactions(&mut self) {
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
}

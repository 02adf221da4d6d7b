//! The `reservations` table (yiding and the local booking system).

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, FixedOffset};
use rand::Rng;

use super::gen::{minutes, num, s, Gen, Ids};
use super::Item;

impl Gen<'_> {
    /// Adds a reservation item. `source`: `Some(true)` forces yiding, `Some(false)` local.
    pub(super) fn add_reservation(
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
}

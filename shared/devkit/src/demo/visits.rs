//! Each customer's visit history, by persona (and 张三's scripted one): when they came,
//! where, and whether they booked; the orders and reservations follow from it.

use chrono::{Duration, TimeZone};
use rand::Rng;

use super::gen::{minutes, pick, Gen};
use super::people::Persona;
use super::times::round_to_half_hour;
use super::{SEED_MEMBER_ID, SEED_PHONE};

impl Gen<'_> {
    pub(super) fn customer_records(&mut self, p: usize) {
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

    /// 张三: a scripted weekly regular at the home store.
    pub(super) fn seed_customer_records(&mut self, p: usize) {
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
}

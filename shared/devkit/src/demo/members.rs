//! The `member_sync` table: one record per member.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Datelike, Duration, NaiveDate, TimeZone};
use rand::Rng;

use super::gen::{minutes, money, num, pick, s, Gen};
use super::people::Persona;
use super::times::TimeStyle;
use super::Item;

impl Gen<'_> {
    pub(super) fn member_record(&mut self, p: usize) {
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
        // The seed customer's record is the product description's, which gives no birthday.
        if persona != Persona::Seed {
            match self.birthday() {
                Some(b) => {
                    item.insert("birthday".into(), s(b));
                }
                None if self.birthday_rng.gen_bool(0.2) => {
                    item.insert("birthday".into(), AttributeValue::Null(true));
                }
                None => {}
            }
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

    /// `member_sync`'s `birthday` (`spec/sources.md`) for 85% of members: `YYYY-MM-DD`, aged
    /// 18 to 70, or `--MM-DD` for one in five who gave no year. The first dated one is a
    /// 29 February (of a leap year), so the data has one whenever it has a dated birthday.
    fn birthday(&mut self) -> Option<String> {
        let rng = &mut self.birthday_rng;
        if !rng.gen_bool(0.85) {
            return None;
        }
        let year = self.now.year() - rng.gen_range(18..=70);
        let days = if NaiveDate::from_ymd_opt(year, 2, 29).is_some() {
            366
        } else {
            365
        };
        let date =
            NaiveDate::from_yo_opt(year, rng.gen_range(1..=days)).expect("a day of the year");
        if rng.gen_bool(0.2) {
            return Some(date.format("--%m-%d").to_string());
        }
        let date = if self.leap_day_given {
            date
        } else {
            self.leap_day_given = true;
            // Leap years are at most 8 years apart (1896, 1904).
            let leap = (year - 8..=year)
                .rev()
                .find(|y| NaiveDate::from_ymd_opt(*y, 2, 29).is_some());
            NaiveDate::from_ymd_opt(leap.expect("a leap year in 9"), 2, 29).expect("a leap year")
        };
        Some(date.format("%Y-%m-%d").to_string())
    }
}

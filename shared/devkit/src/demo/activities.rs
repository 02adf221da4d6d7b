//! The `audit_log` table: members' app activity (logins, coupons, points, recharges).

use chrono::{DateTime, Duration, FixedOffset};
use rand::Rng;

use super::gen::{minutes, pick, s, yuan, Gen, Ids};
use super::people::Persona;
use super::Item;

impl Gen<'_> {
    pub(super) fn add_activity(
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

    pub(super) fn activity_records(&mut self, p: usize) {
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
    pub(super) fn seed_activities(&mut self, p: usize, first: DateTime<FixedOffset>) {
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
}

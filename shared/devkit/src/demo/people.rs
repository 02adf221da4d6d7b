//! The customers: their personas, member profiles, names and emails.

use chrono::{DateTime, FixedOffset};
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::HashSet;

use super::gen::{pick, Gen};
use super::names::{COMPOUND_SURNAMES, EMAIL_DOMAINS, GIVEN, PHONE_PREFIXES, SURNAMES};
use super::{SEED_EMAIL, SEED_MEMBER_ID, SEED_NAME, SEED_PHONE, SEED_STORE};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Persona {
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

    pub(super) fn member_rate(self) -> f64 {
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
    pub(super) fn booking_rate(self) -> f64 {
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
    pub(super) fn order_types(self) -> [u32; 3] {
        match self {
            Persona::Booker | Persona::BigSpender => [90, 5, 5],
            Persona::OneTimer | Persona::Newcomer => [55, 30, 15],
            Persona::Seed => [75, 15, 10],
            _ => [62, 22, 16],
        }
    }

    /// Days between app logins (members), as a range.
    pub(super) fn login_every(self) -> (f64, f64) {
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

pub(super) struct Member {
    pub(super) member_id: String,
    pub(super) email: Option<String>,
}

pub(super) struct Person {
    pub(super) phone: String,
    pub(super) name: String,
    pub(super) home: usize,
    pub(super) persona: Persona,
    pub(super) member: Option<Member>,
    /// Visit times and stores, chronological.
    pub(super) visits: Vec<(DateTime<FixedOffset>, usize)>,
    /// Spend of paid/completed orders, fen.
    pub(super) spent_fen: i64,
}

impl Gen<'_> {
    pub(super) fn make_people(&mut self) {
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
    pub(super) fn chinese_name(&mut self) -> (String, (String, String)) {
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

    pub(super) fn email(
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
}

//! Typed source records: the five operational tables of `spec/sources.md`.

use crate::ids::{Email, Identifier, MemberId, Phone, StoreId};
use crate::money::Fen;
use crate::segment::Birthday;
use crate::time::Millis;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Orders,
    Reservations,
    PosTransactions,
    MemberSync,
    /// The members' app activity (logins, coupons, points, recharges). Its source table is
    /// called `audit_log` in `spec/sources.md`; nothing else here says "audit" for it, which
    /// means the query audit log only. Serialized under the table's name, as before the rename.
    #[serde(rename = "audit_log")]
    Activity,
}

impl SourceKind {
    pub const ALL: [SourceKind; 5] = [
        SourceKind::Orders,
        SourceKind::Reservations,
        SourceKind::PosTransactions,
        SourceKind::MemberSync,
        SourceKind::Activity,
    ];
    /// The table's name in `spec/sources.md` (and the default table name).
    pub fn table(self) -> &'static str {
        match self {
            SourceKind::Orders => "orders",
            SourceKind::Reservations => "reservations",
            SourceKind::PosTransactions => "pos_transactions",
            SourceKind::MemberSync => "member_sync",
            SourceKind::Activity => "audit_log",
        }
    }
    /// The partition key attribute of the source table.
    pub fn id_attribute(self) -> &'static str {
        match self {
            SourceKind::Orders => "order_id",
            SourceKind::Reservations => "reservation_id",
            SourceKind::PosTransactions => "transaction_id",
            SourceKind::MemberSync => "member_id",
            SourceKind::Activity => "log_id",
        }
    }
    /// `event_type` in the timeline.
    pub fn event_type(self) -> &'static str {
        match self {
            SourceKind::Orders => "order",
            SourceKind::Reservations => "reservation",
            SourceKind::PosTransactions => "pos_transaction",
            SourceKind::MemberSync => "member",
            SourceKind::Activity => "activity",
        }
    }
    pub fn from_table(name: &str) -> Option<SourceKind> {
        SourceKind::ALL.into_iter().find(|k| k.table() == name)
    }
}

/// The identifiers a record carries, each already normalized.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identities {
    pub member: Option<MemberId>,
    pub phone: Option<Phone>,
    pub email: Option<Email>,
}

impl Identities {
    /// Where a record's contribution lives: its member id, else its phone, else its email.
    /// Fixed by the record alone, so it never depends on arrival order.
    pub fn home(&self) -> Option<Identifier> {
        if let Some(m) = &self.member {
            return Some(Identifier::Member(m.clone()));
        }
        if let Some(p) = &self.phone {
            return Some(Identifier::Phone(p.clone()));
        }
        self.email.clone().map(Identifier::Email)
    }
    pub fn is_empty(&self) -> bool {
        self.member.is_none() && self.phone.is_none() && self.email.is_none()
    }
    /// Every identifier the record carries (an erasure suppresses a record by any of them).
    pub fn all(&self) -> Vec<Identifier> {
        let mut v = Vec::new();
        if let Some(m) = &self.member {
            v.push(Identifier::Member(m.clone()));
        }
        if let Some(p) = &self.phone {
            v.push(Identifier::Phone(p.clone()));
        }
        if let Some(e) = &self.email {
            v.push(Identifier::Email(e.clone()));
        }
        v
    }
}

/// A closed set of known values plus whatever a source sends that we do not know yet:
/// an unknown status is shown as sent rather than failing the record.
macro_rules! open_enum {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $($variant,)+ Other(String) }
        impl $name {
            pub fn parse(raw: &str) -> Self {
                match raw { $($text => $name::$variant,)+ other => $name::Other(other.to_string()) }
            }
            pub fn as_str(&self) -> &str {
                match self { $($name::$variant => $text,)+ $name::Other(s) => s.as_str() }
            }
        }
    };
}

open_enum!(OrderType { DineIn => "dine_in", Delivery => "delivery", Pickup => "pickup" });
open_enum!(OrderStatus { Pending => "pending", Paid => "paid", Completed => "completed", Cancelled => "cancelled", Refunded => "refunded" });
open_enum!(ReservationStatus { Pending => "pending", Confirmed => "confirmed", Arrived => "arrived", Completed => "completed", Cancelled => "cancelled", NoShow => "no_show" });
open_enum!(PosStatus { Success => "success", Refunded => "refunded", Voided => "voided" });

impl OrderType {
    pub fn label(&self) -> &str {
        match self {
            OrderType::DineIn => "堂食",
            OrderType::Delivery => "外卖",
            OrderType::Pickup => "自提",
            OrderType::Other(s) => s,
        }
    }
}

impl OrderStatus {
    /// Spend counts an order while it is paid or completed.
    pub fn is_counted(&self) -> bool {
        matches!(self, OrderStatus::Paid | OrderStatus::Completed)
    }
}

impl ReservationStatus {
    /// The guest came: counts towards 预订常客.
    pub fn is_fulfilled(&self) -> bool {
        matches!(
            self,
            ReservationStatus::Arrived | ReservationStatus::Completed
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    pub dish_id: Option<String>,
    pub name: Option<String>,
    pub quantity: Option<i64>,
    pub price: Option<Fen>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub order_id: String,
    pub order_number: Option<String>,
    pub store: StoreId,
    pub ids: Identities,
    pub customer_name: Option<String>,
    pub order_type: OrderType,
    pub status: OrderStatus,
    pub total: Fen,
    pub items: Vec<OrderLine>,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reservation {
    pub reservation_id: String,
    pub store: StoreId,
    pub ids: Identities,
    pub customer_name: Option<String>,
    pub party_size: Option<i64>,
    pub reserved_for: Millis,
    pub status: ReservationStatus,
    pub source: Option<String>,
    pub external_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PosTransaction {
    pub transaction_id: String,
    pub store: StoreId,
    pub ids: Identities,
    pub order_number: Option<String>,
    pub amount: Fen,
    pub payment_method: Option<String>,
    pub status: PosStatus,
    pub transacted_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub member_id: MemberId,
    pub phone: Option<Phone>,
    pub email: Option<Email>,
    pub name: Option<String>,
    pub level: Option<String>,
    pub points: Option<i64>,
    pub balance: Option<Fen>,
    pub store: Option<StoreId>,
    /// `YYYY-MM-DD`, or `--MM-DD` when the member gave no year (`spec/sources.md`): the text
    /// as given, trimmed, checked by [`birthday_text`].
    #[serde(default)]
    pub birthday: Option<String>,
    pub registered_at: Millis,
    pub synced_at: Option<Millis>,
}

/// Why a member's `birthday` is not one ([`birthday_text`]). The messages never show the
/// birthday (they reach logs, `spec/api.md`: a year only to clear roles): `Shape` holds the
/// text's first 16 characters with every digit (any script's) shown as `#`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BirthdayError {
    #[error("`{0}` is not `YYYY-MM-DD` or `--MM-DD`")]
    Shape(String),
    #[error("not a real date")]
    Date,
}

/// Checks a member's `birthday` (`spec/sources.md`): `YYYY-MM-DD`, or `--MM-DD` when the
/// member gave no year, with exactly those digits (`1990-3-1` is refused: the profile shows
/// the text as given, in the one spelling the spec names). The month and day must exist in
/// some year (`--02-29` does), a dated one must be a real date (`2001-02-29` is not).
/// Returns the text trimmed.
pub fn birthday_text(raw: &str) -> Result<String, BirthdayError> {
    let s = raw.trim();
    let digits = |part: &str, n: usize| part.len() == n && part.bytes().all(|b| b.is_ascii_digit());
    let year = match s.split('-').collect::<Vec<_>>()[..] {
        ["", "", m, d] if digits(m, 2) && digits(d, 2) => None,
        [y, m, d] if digits(y, 4) && digits(m, 2) && digits(d, 2) => Some(y),
        _ => {
            let shape = s.chars().take(16);
            let shape = shape.map(|c| if c.is_numeric() { '#' } else { c });
            return Err(BirthdayError::Shape(shape.collect()));
        }
    };
    let month_day = Birthday::parse(s).ok_or(BirthdayError::Date)?;
    if let Some(year) = year {
        let year = year.parse().map_err(|_| BirthdayError::Date)?;
        NaiveDate::from_ymd_opt(year, month_day.month(), month_day.day())
            .ok_or(BirthdayError::Date)?;
    }
    Ok(s.to_string())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub log_id: String,
    pub store: Option<StoreId>,
    pub ids: Identities,
    pub action: String,
    pub detail: Option<String>,
    pub created_at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SourceRecord {
    Order(Order),
    Reservation(Reservation),
    Pos(PosTransaction),
    Member(Member),
    Activity(Activity),
}

impl SourceRecord {
    pub fn kind(&self) -> SourceKind {
        match self {
            SourceRecord::Order(_) => SourceKind::Orders,
            SourceRecord::Reservation(_) => SourceKind::Reservations,
            SourceRecord::Pos(_) => SourceKind::PosTransactions,
            SourceRecord::Member(_) => SourceKind::MemberSync,
            SourceRecord::Activity(_) => SourceKind::Activity,
        }
    }
    pub fn source_id(&self) -> &str {
        match self {
            SourceRecord::Order(o) => &o.order_id,
            SourceRecord::Reservation(r) => &r.reservation_id,
            SourceRecord::Pos(p) => &p.transaction_id,
            SourceRecord::Member(m) => m.member_id.as_str(),
            SourceRecord::Activity(a) => &a.log_id,
        }
    }
    pub fn identities(&self) -> Identities {
        match self {
            SourceRecord::Order(o) => o.ids.clone(),
            SourceRecord::Reservation(r) => r.ids.clone(),
            SourceRecord::Pos(p) => p.ids.clone(),
            SourceRecord::Activity(a) => a.ids.clone(),
            SourceRecord::Member(m) => Identities {
                member: Some(m.member_id.clone()),
                phone: m.phone.clone(),
                email: m.email.clone(),
            },
        }
    }
    pub fn home(&self) -> Option<Identifier> {
        self.identities().home()
    }
    pub fn store(&self) -> Option<&StoreId> {
        match self {
            SourceRecord::Order(o) => Some(&o.store),
            SourceRecord::Reservation(r) => Some(&r.store),
            SourceRecord::Pos(p) => Some(&p.store),
            SourceRecord::Member(m) => m.store.as_ref(),
            SourceRecord::Activity(a) => a.store.as_ref(),
        }
    }
    /// The time that places the record in the timeline.
    pub fn timeline_time(&self) -> Millis {
        match self {
            SourceRecord::Order(o) => o.created_at,
            SourceRecord::Reservation(r) => r.reserved_for,
            SourceRecord::Pos(p) => p.transacted_at,
            SourceRecord::Member(m) => m.registered_at,
            SourceRecord::Activity(a) => a.created_at,
        }
    }
    /// The identity links this record makes: a member record links its member id to its
    /// phone and email. Other records link nothing (`spec/sources.md`).
    pub fn links(&self) -> Vec<Identifier> {
        match self {
            SourceRecord::Member(m) => {
                let mut v = Vec::new();
                if let Some(p) = &m.phone {
                    v.push(Identifier::Phone(p.clone()));
                }
                if let Some(e) = &m.email {
                    v.push(Identifier::Email(e.clone()));
                }
                v
            }
            _ => Vec::new(),
        }
    }
    pub fn customer_name(&self) -> Option<&str> {
        let name = match self {
            SourceRecord::Order(o) => o.customer_name.as_deref(),
            SourceRecord::Reservation(r) => r.customer_name.as_deref(),
            SourceRecord::Member(m) => m.name.as_deref(),
            SourceRecord::Pos(_) | SourceRecord::Activity(_) => None,
        };
        name.map(str::trim).filter(|n| !n.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_birthday_is_a_date_or_a_month_and_day() {
        for ok in [
            "1990-03-01",
            "2000-02-29",
            "--02-29",
            "--12-31",
            " 1990-03-01 ",
        ] {
            assert_eq!(birthday_text(ok), Ok(ok.trim().to_string()), "{ok:?}");
        }
        for (shape, shown) in [
            ("", ""),
            ("1990-3-1", "####-#-#"),
            ("90-03-01", "##-##-##"),
            ("+1990-03-01", "+####-##-##"),
            ("19900-03-01", "#####-##-##"),
            ("--3-01", "--#-##"),
            ("-03-01", "-##-##"),
            ("03-01", "##-##"),
            ("1990/03/01", "####/##/##"),
            ("１９９０-03-01", "####-##-##"),
            ("1990-03-01T00:00:00", "####-##-##T##:##"),
        ] {
            assert_eq!(
                birthday_text(shape),
                Err(BirthdayError::Shape(shown.to_string())),
                "{shape:?}"
            );
        }
        for date in [
            "2001-02-29",
            "1990-02-30",
            "1990-13-01",
            "--02-30",
            "--00-10",
            "--04-31",
        ] {
            assert_eq!(birthday_text(date), Err(BirthdayError::Date), "{date:?}");
        }
    }
}

//! Stream images (DynamoDB JSON) to typed source records, per `spec/sources.md`.
//!
//! Required attributes missing, wrong types, unparsable times and negative amounts are
//! permanent errors for that record, with a message naming the attribute. An implausible
//! phone or email is dropped (the record keeps its other identifiers) rather than failing
//! the record: the rest of the record is still true. Any other optional attribute that is
//! present but cannot be read fails the record as a required one would (a fractional
//! `points`, a `store_id` that is no store id, a `birthday` that is not `YYYY-MM-DD` or
//! `--MM-DD`, or not a real date): the record is reported and retried, then goes to the
//! failure destination (locally the dead letters, whole), to be replayed once the source is
//! fixed, rather than applied without what it said.

use c360_domain::access::{mask_email, mask_phone};
use c360_domain::ids::{Email, MemberId, Phone, StoreId};
use c360_domain::money::{parse_scaled, Fen, NumberError};
use c360_domain::source::*;
use c360_domain::time::{Millis, Zone};
use serde_dynamo::AttributeValue as Av;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("attribute `{0}` is required")]
    Missing(&'static str),
    #[error("attribute `{attr}` must be {expected}")]
    Type {
        attr: &'static str,
        expected: &'static str,
    },
    #[error("attribute `{attr}`: {message}")]
    Invalid { attr: &'static str, message: String },
}

/// Identifiers that were present but implausible, reported for metrics and logs: the
/// attributes, and beside them the values as given, masked (a phone keeps its last 4
/// characters, an email its first and its domain), so a log line can show what came in.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Dropped(pub Vec<&'static str>, pub Vec<String>);

struct Image<'a> {
    map: &'a HashMap<String, Av>,
    zone: &'a Zone,
    dropped: Dropped,
}

impl<'a> Image<'a> {
    fn get(&self, attr: &'static str) -> Option<&'a Av> {
        match self.map.get(attr) {
            None | Some(Av::Null(_)) => None,
            Some(v) => Some(v),
        }
    }
    fn opt_str(&self, attr: &'static str) -> Result<Option<&'a str>, DecodeError> {
        match self.get(attr) {
            None => Ok(None),
            Some(Av::S(s)) if s.trim().is_empty() => Ok(None),
            Some(Av::S(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(DecodeError::Type {
                attr,
                expected: "a string (S)",
            }),
        }
    }
    fn str(&self, attr: &'static str) -> Result<&'a str, DecodeError> {
        self.opt_str(attr)?.ok_or(DecodeError::Missing(attr))
    }
    fn opt_string(&self, attr: &'static str) -> Result<Option<String>, DecodeError> {
        Ok(self.opt_str(attr)?.map(|s| s.trim().to_string()))
    }
    fn opt_num(&self, attr: &'static str) -> Result<Option<&'a str>, DecodeError> {
        match self.get(attr) {
            None => Ok(None),
            Some(Av::N(n)) => Ok(Some(n.as_str())),
            Some(_) => Err(DecodeError::Type {
                attr,
                expected: "a number (N)",
            }),
        }
    }
    /// A whole number in any spelling DynamoDB gives it (`1.5E3` is 1500, `4.0` is 4);
    /// `2.5` is an error for this record, naming the attribute.
    fn opt_int(&self, attr: &'static str) -> Result<Option<i64>, DecodeError> {
        self.opt_num(attr)?
            .map(|n| {
                parse_scaled(n, 0).map_err(|e| DecodeError::Invalid {
                    attr,
                    message: match e {
                        NumberError::Fraction(_) => format!("`{n}` is not a whole number"),
                        other => other.to_string(),
                    },
                })
            })
            .transpose()
    }
    fn opt_money(&self, attr: &'static str) -> Result<Option<Fen>, DecodeError> {
        self.opt_num(attr)?
            .map(|n| {
                Fen::parse_yuan(n).map_err(|e| DecodeError::Invalid {
                    attr,
                    message: e.to_string(),
                })
            })
            .transpose()
    }
    fn money(&self, attr: &'static str) -> Result<Fen, DecodeError> {
        self.opt_money(attr)?.ok_or(DecodeError::Missing(attr))
    }
    fn opt_time(&self, attr: &'static str) -> Result<Option<Millis>, DecodeError> {
        self.opt_str(attr)?
            .map(|s| {
                self.zone.parse_time(s).map_err(|e| DecodeError::Invalid {
                    attr,
                    message: e.to_string(),
                })
            })
            .transpose()
    }
    fn time(&self, attr: &'static str) -> Result<Millis, DecodeError> {
        self.opt_time(attr)?.ok_or(DecodeError::Missing(attr))
    }
    fn store(&self, attr: &'static str) -> Result<StoreId, DecodeError> {
        StoreId::parse(self.str(attr)?).map_err(|e| DecodeError::Invalid {
            attr,
            message: e.to_string(),
        })
    }
    fn opt_store(&self, attr: &'static str) -> Result<Option<StoreId>, DecodeError> {
        self.opt_str(attr)?
            .map(|s| {
                StoreId::parse(s).map_err(|e| DecodeError::Invalid {
                    attr,
                    message: e.to_string(),
                })
            })
            .transpose()
    }
    /// `YYYY-MM-DD` or `--MM-DD` ([`birthday_text`]).
    fn opt_birthday(&self, attr: &'static str) -> Result<Option<String>, DecodeError> {
        self.opt_str(attr)?
            .map(|s| {
                birthday_text(s).map_err(|e| DecodeError::Invalid {
                    attr,
                    message: e.to_string(),
                })
            })
            .transpose()
    }
    fn phone(&mut self, attr: &'static str) -> Result<Option<Phone>, DecodeError> {
        Ok(self.opt_str(attr)?.and_then(|s| match Phone::parse(s) {
            Ok(p) => Some(p),
            Err(_) => {
                self.dropped.0.push(attr);
                self.dropped.1.push(mask_phone(s.trim()));
                None
            }
        }))
    }
    fn email(&mut self, attr: &'static str) -> Result<Option<Email>, DecodeError> {
        Ok(self.opt_str(attr)?.and_then(|s| match Email::parse(s) {
            Ok(e) => Some(e),
            Err(_) => {
                self.dropped.0.push(attr);
                self.dropped.1.push(mask_email(s.trim()));
                None
            }
        }))
    }
    fn member(&mut self, attr: &'static str) -> Result<Option<MemberId>, DecodeError> {
        Ok(self.opt_str(attr)?.and_then(|s| match MemberId::parse(s) {
            Ok(m) => Some(m),
            Err(_) => {
                self.dropped.0.push(attr);
                self.dropped.1.push(s.trim().chars().take(64).collect());
                None
            }
        }))
    }
    fn ids(&mut self, phone_attr: &'static str) -> Result<Identities, DecodeError> {
        Ok(Identities {
            member: self.member("member_id")?,
            phone: self.phone(phone_attr)?,
            email: self.email("email")?,
        })
    }
    fn lines(&self) -> Result<Vec<OrderLine>, DecodeError> {
        let list = match self.get("items") {
            None => return Ok(Vec::new()),
            Some(Av::L(l)) => l,
            Some(_) => {
                return Err(DecodeError::Type {
                    attr: "items",
                    expected: "a list (L) of maps",
                })
            }
        };
        list.iter()
            .map(|v| match v {
                Av::M(m) => {
                    let line = Image {
                        map: m,
                        zone: self.zone,
                        dropped: Dropped::default(),
                    };
                    let at = |e: DecodeError| DecodeError::Invalid {
                        attr: "items",
                        message: e.to_string(),
                    };
                    Ok(OrderLine {
                        dish_id: line.opt_string("dish_id").map_err(at)?,
                        name: line.opt_string("name").map_err(at)?,
                        quantity: line.opt_int("quantity").map_err(at)?,
                        price: line.opt_money("price").map_err(at)?,
                    })
                }
                _ => Err(DecodeError::Type {
                    attr: "items",
                    expected: "a list (L) of maps",
                }),
            })
            .collect()
    }
}

/// Decodes a new image of `kind`'s table.
pub fn decode(
    kind: SourceKind,
    image: &HashMap<String, Av>,
    zone: &Zone,
) -> Result<(SourceRecord, Dropped), DecodeError> {
    let mut im = Image {
        map: image,
        zone,
        dropped: Dropped::default(),
    };
    let record = match kind {
        SourceKind::Orders => SourceRecord::Order(Order {
            order_id: im.str("order_id")?.to_string(),
            order_number: im.opt_string("order_number")?,
            store: im.store("store_id")?,
            ids: im.ids("customer_phone")?,
            customer_name: im.opt_string("customer_name")?,
            order_type: OrderType::parse(im.opt_str("order_type")?.unwrap_or("dine_in")),
            status: OrderStatus::parse(im.str("status")?),
            total: im.money("total")?,
            items: im.lines()?,
            created_at: im.time("created_at")?,
        }),
        SourceKind::Reservations => SourceRecord::Reservation(Reservation {
            reservation_id: im.str("reservation_id")?.to_string(),
            store: im.store("store_id")?,
            ids: im.ids("customer_phone")?,
            customer_name: im.opt_string("customer_name")?,
            party_size: im.opt_int("party_size")?,
            reserved_for: im.time("reserved_for")?,
            status: ReservationStatus::parse(im.str("status")?),
            source: im.opt_string("source")?,
            external_id: im.opt_string("external_id")?,
        }),
        SourceKind::PosTransactions => SourceRecord::Pos(PosTransaction {
            transaction_id: im.str("transaction_id")?.to_string(),
            store: im.store("store_id")?,
            ids: im.ids("customer_phone")?,
            order_number: im.opt_string("order_number")?,
            amount: im.money("amount")?,
            payment_method: im.opt_string("payment_method")?,
            status: PosStatus::parse(im.str("status")?),
            transacted_at: im.time("transacted_at")?,
        }),
        SourceKind::MemberSync => {
            let member_id =
                MemberId::parse(im.str("member_id")?).map_err(|e| DecodeError::Invalid {
                    attr: "member_id",
                    message: e.to_string(),
                })?;
            let synced_at = im.opt_time("synced_at")?;
            let registered_at = match im.opt_time("registered_at")? {
                Some(t) => t,
                None => synced_at.ok_or(DecodeError::Missing("registered_at"))?,
            };
            SourceRecord::Member(Member {
                member_id,
                phone: im.phone("phone")?,
                email: im.email("email")?,
                name: im.opt_string("name")?,
                level: im.opt_string("level")?,
                points: im.opt_int("points")?,
                balance: im.opt_money("balance")?,
                store: im.opt_store("store_id")?,
                birthday: im.opt_birthday("birthday")?,
                registered_at,
                synced_at,
            })
        }
        SourceKind::Activity => SourceRecord::Activity(Activity {
            log_id: im.str("log_id")?.to_string(),
            store: im.opt_store("store_id")?,
            ids: im.ids("customer_phone")?,
            action: im.str("action")?.to_string(),
            detail: im.opt_string("detail")?,
            created_at: im.time("created_at")?,
        }),
    };
    Ok((record, im.dropped))
}

/// The source id from a stream record's keys (present even on REMOVE).
pub fn source_id(kind: SourceKind, keys: &HashMap<String, Av>) -> Result<String, DecodeError> {
    let attr = kind.id_attribute();
    match keys.get(attr) {
        Some(Av::S(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Av::N(n)) => Ok(n.clone()),
        Some(_) => Err(DecodeError::Type {
            attr,
            expected: "a string (S)",
        }),
        None => Err(DecodeError::Missing(attr)),
    }
}

#[cfg(test)]
mod tests;

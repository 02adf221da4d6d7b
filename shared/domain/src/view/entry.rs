//! A timeline entry's title, description and `data`, rendered once when the record is
//! projected and then served as stored (`timeline`, `recent_orders`, `recent_reservations`).

use crate::projection::TimelineEntry;
use crate::source::SourceRecord;
use crate::time::Zone;

fn pos_method_label(m: &str) -> &str {
    match m {
        "wechat" => "微信支付",
        "alipay" => "支付宝",
        "cash" => "现金",
        "card" => "银行卡",
        "member_balance" => "会员余额",
        other => other,
    }
}

fn activity_label(a: &str) -> &str {
    match a {
        "login" => "登录",
        "redeem_points" => "积分兑换",
        "recharge" => "充值",
        "coupon_claimed" => "领取优惠券",
        other => other,
    }
}

impl TimelineEntry {
    /// The entry of a record's current state: `event_type`, the time it is placed at, a
    /// title and description in Chinese for people (amounts in yuan), the status, and `data`
    /// with the record's fields as the answers show them.
    pub fn of(record: &SourceRecord, zone: &Zone) -> TimelineEntry {
        use serde_json::json;
        let store = record.store().map(|s| s.as_str().to_string());
        let (title, description, status, data) = match record {
            SourceRecord::Order(o) => (
                format!("订单 {}", o.order_number.as_deref().unwrap_or(&o.order_id)),
                format!("{} - ¥{}", o.order_type.label(), o.total.display_yuan()),
                Some(o.status.as_str().to_string()),
                json!({
                    "order_id": o.order_id,
                    "order_number": o.order_number,
                    "store_id": store,
                    "order_type": o.order_type.as_str(),
                    "total": o.total.yuan(),
                    "items": o.items.iter().map(|l| json!({
                        "dish_id": l.dish_id, "name": l.name, "quantity": l.quantity,
                        "price": l.price.map(|p| p.yuan()),
                    })).collect::<Vec<_>>(),
                }),
            ),
            SourceRecord::Reservation(r) => (
                match r.party_size {
                    Some(n) => format!("预订 - {n}人"),
                    None => "预订".to_string(),
                },
                format!("状态: {}", r.status.as_str()),
                Some(r.status.as_str().to_string()),
                json!({
                    "reservation_id": r.reservation_id,
                    "store_id": store,
                    "party_size": r.party_size,
                    "reserved_for": zone.format(r.reserved_for),
                    "source": r.source,
                    "external_id": r.external_id,
                }),
            ),
            SourceRecord::Pos(p) => (
                format!("POS交易 ¥{}", p.amount.display_yuan()),
                match &p.payment_method {
                    Some(m) => format!("{} - {}", pos_method_label(m), p.status.as_str()),
                    None => p.status.as_str().to_string(),
                },
                Some(p.status.as_str().to_string()),
                json!({
                    "transaction_id": p.transaction_id,
                    "store_id": store,
                    "order_number": p.order_number,
                    "amount": p.amount.yuan(),
                    "payment_method": p.payment_method,
                }),
            ),
            SourceRecord::Member(m) => (
                "会员注册".to_string(),
                match &m.level {
                    Some(level) => format!("会员等级: {level}"),
                    None => "会员".to_string(),
                },
                None,
                json!({
                    "member_id": m.member_id.as_str(),
                    "store_id": store,
                    "level": m.level,
                }),
            ),
            SourceRecord::Activity(a) => (
                format!("会员活动: {}", activity_label(&a.action)),
                a.detail.clone().unwrap_or_default(),
                None,
                json!({
                    "log_id": a.log_id,
                    "store_id": store,
                    "action": a.action,
                }),
            ),
        };
        TimelineEntry {
            event_type: record.kind().event_type().to_string(),
            at: record.timeline_time(),
            title,
            description,
            status,
            data,
        }
    }
}

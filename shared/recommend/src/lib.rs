//! Customer360 dish recommendations: which dishes a customer is likely to order next.
//!
//! - [`rank`]: one customer's ranking from their baskets and the store's statistics, each
//!   dish with its [`Reason`] (`repeat`, `paired_with` + dish, `popular`). The formula, its
//!   parameters and their sources are on [`rank`] and [`Params`]; [`rank_at`] ranks for an
//!   order at a given time (days since each dish's last order against its usual interval).
//! - [`StoreStats`]: store-wide popularity, reorder rates and co-occurrence counts (lift).
//! - [`StoreDishes`] and [`recommend_dishes`]: what the recommendations endpoint ranks with
//!   (built by the scheduled calibration from every counted order) and its ranking: [`rank_at`]
//!   limited to dishes the store serves now, the popular fill by time of day.
//! - [`orders`]: the order-line CSV of the `c360-recommend` CLI, which evaluates the ranking
//!   offline (`scripts/eval-recommend`, `docs/RECOMMENDATIONS.md`).
//!
//! Pure: no AWS, no network, no clock; time comes in as sortable strings, and the time of
//! the order being ranked, when known, as an argument ([`rank_at`]).

pub mod orders;
mod rank;
mod stats;
mod store;

pub use rank::{rank, rank_at, Params, Reason, Recommendation};
pub use stats::{DishStats, StatsParts, StoreStats, MAX_PAIR_DISHES_PER_BASKET};
pub use store::{
    recommend_dishes, StoreDishes, StoreDishesBuilder, TimedBasket, MAX_RECOMMENDATIONS,
    POPULAR_PER_DAYPART, RECENT_DAYS, WINDOW_DAYS,
};

/// One order of one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basket {
    /// The order id; breaks ties between orders at the same time.
    pub order_id: String,
    /// When it was ordered, as a string that sorts in time order (RFC 3339 in one offset,
    /// a zero-padded number, ...).
    pub ordered_at: String,
    /// The dish ids of its lines; a dish may appear more than once.
    pub dishes: Vec<String>,
}

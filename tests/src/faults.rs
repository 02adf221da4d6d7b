//! Fault injection on the DynamoDB client of the code under test: an SDK interceptor that
//! makes the next request of one operation fail once, either before it is sent (a crash
//! before the write: nothing reached the table) or after DynamoDB answered (a crash after the
//! write: it committed, but the caller never learns it).

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The request fails before it leaves: DynamoDB never sees it.
    BeforeSend,
    /// DynamoDB executes the request; its response is lost on the way back.
    ResponseLost,
}

#[derive(Debug, Default)]
struct State {
    armed: Option<(String, Phase)>,
    /// Keep failing until disarmed (otherwise once).
    every: bool,
    fired: u64,
}

/// Disarmed until [`Faults::fail_next`] (fires once, on the next request of that operation) or
/// [`Faults::fail_every`].
#[derive(Debug, Clone, Default)]
pub struct Faults {
    state: Arc<Mutex<State>>,
}

impl Faults {
    /// The next `operation` request (e.g. `TransactWriteItems`) fails once, at `phase`.
    pub fn fail_next(&self, operation: &str, phase: Phase) {
        if let Ok(mut s) = self.state.lock() {
            s.armed = Some((operation.to_string(), phase));
            s.every = false;
        }
    }
    /// Every `operation` request fails at `phase` until [`Faults::disarm`]: an outage.
    pub fn fail_every(&self, operation: &str, phase: Phase) {
        if let Ok(mut s) = self.state.lock() {
            s.armed = Some((operation.to_string(), phase));
            s.every = true;
        }
    }
    pub fn disarm(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.armed = None;
        }
    }
    /// How many faults fired since the environment was made.
    pub fn fired(&self) -> u64 {
        self.state.lock().map(|s| s.fired).unwrap_or(0)
    }
}

/// Marks a request whose response is to be lost once it arrives.
#[derive(Debug, Clone)]
struct LoseResponse;
impl Storable for LoseResponse {
    type Storer = StoreReplace<Self>;
}

#[derive(Debug)]
struct InjectedFault(&'static str);
impl std::fmt::Display for InjectedFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "injected fault: {}", self.0)
    }
}
impl std::error::Error for InjectedFault {}

impl Intercept for Faults {
    fn name(&self) -> &'static str {
        "Faults"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = c360_dynamodb::counter::operation_name(context.request().headers());
        let Ok(mut s) = self.state.lock() else {
            return Ok(());
        };
        let phase = match &s.armed {
            Some((armed, phase)) if armed == op => *phase,
            _ => return Ok(()),
        };
        if !s.every {
            s.armed = None;
        }
        match phase {
            Phase::BeforeSend => {
                s.fired += 1;
                Err(Box::new(InjectedFault(
                    "crashed before sending the request",
                )))
            }
            Phase::ResponseLost => {
                cfg.interceptor_state().store_put(LoseResponse);
                Ok(())
            }
        }
    }

    fn read_after_transmit(
        &self,
        _: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<LoseResponse>().is_none() {
            return Ok(());
        }
        if let Ok(mut s) = self.state.lock() {
            s.fired += 1;
        }
        Err(Box::new(InjectedFault(
            "crashed after DynamoDB answered: the response is lost",
        )))
    }
}

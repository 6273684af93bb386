//! Calls and casts with Erlang's guarantees.
//!
//! `gen_server:call` always has a timeout (5 s unless given) and fails at once when the
//! target is dead. ractor's `call!` has no timeout, and a call to an actor that is stopping
//! may sit in a mailbox nobody reads until the actor's `post_stop` ends. [`call`] and
//! [`call_timeout`] close both gaps and return a typed [`CallError`]:
//!
//! - [`CallError::NoProc`]: the target was dead or dying when the call was made;
//! - [`CallError::Stopped`]: the target stopped (or dropped the reply port) before answering;
//! - [`CallError::Timeout`]: no answer within the deadline. As in Erlang, the request may
//!   still be processed later; its late answer is discarded.
//!
//! ```no_run
//! # use bream_runtime::call::{call, CallError};
//! # use ractor::{ActorRef, RpcReplyPort};
//! # enum CounterMsg { Get(RpcReplyPort<u64>) }
//! # bream_runtime::local_message!(CounterMsg);
//! # async fn example(counter: ActorRef<CounterMsg>) -> Result<(), CallError> {
//! let value: u64 = call(&counter, CounterMsg::Get).await?;
//! # Ok(()) }
//! ```

use std::time::Duration;

use ractor::rpc::CallResult;
use ractor::{ActorRef, ActorStatus, Message, MessagingErr, RpcReplyPort};

/// Erlang's default `gen_server:call` timeout.
pub const CALL_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);

/// Why a call returned no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No answer arrived within the deadline.
    #[error("call timed out after {after:?}")]
    Timeout {
        /// The deadline that passed.
        after: Duration,
    },
    /// The target was not alive (never started, stopping, or stopped).
    #[error("no process: the target actor is not alive")]
    NoProc,
    /// The target stopped, or dropped the reply port, before answering.
    #[error("the target actor stopped before answering")]
    Stopped,
}

/// Why a cast was not delivered; the message is handed back.
#[derive(Debug, thiserror::Error)]
pub enum CastError<M> {
    /// The target was not alive.
    #[error("no process: the target actor is not alive")]
    NoProc(M),
    /// The target's mailbox closed while the message was being handed over; ractor keeps
    /// the message in that case, so it cannot be returned.
    #[error("the target actor's mailbox is closed")]
    Closed,
}

/// Calls `actor` with the default timeout ([`CALL_TIMEOUT_DEFAULT`]).
pub async fn call<M, T, F>(actor: &ActorRef<M>, build: F) -> Result<T, CallError>
where
    M: Message,
    T: Send + 'static,
    F: FnOnce(RpcReplyPort<T>) -> M,
{
    call_timeout(actor, build, CALL_TIMEOUT_DEFAULT).await
}

/// Calls `actor`, waiting at most `timeout` for the answer.
pub async fn call_timeout<M, T, F>(
    actor: &ActorRef<M>,
    build: F,
    timeout: Duration,
) -> Result<T, CallError>
where
    M: Message,
    T: Send + 'static,
    F: FnOnce(RpcReplyPort<T>) -> M,
{
    if !is_alive_status(actor.get_status()) {
        return Err(CallError::NoProc);
    }
    match actor.call(build, Some(timeout)).await {
        Ok(CallResult::Success(value)) => Ok(value),
        Ok(CallResult::Timeout) => Err(CallError::Timeout { after: timeout }),
        Ok(CallResult::SenderError) => Err(CallError::Stopped),
        Err(_) => Err(CallError::NoProc),
    }
}

/// Sends `message` to `actor` without waiting; a dead or dying target hands it back.
pub fn cast<M: Message>(actor: &ActorRef<M>, message: M) -> Result<(), CastError<M>> {
    if !is_alive_status(actor.get_status()) {
        return Err(CastError::NoProc(message));
    }
    actor.cast(message).map_err(|error| match error {
        MessagingErr::SendErr(message) => CastError::NoProc(message),
        MessagingErr::ChannelClosed | MessagingErr::InvalidActorType => CastError::Closed,
    })
}

/// Whether an actor in `status` can still take messages.
pub(crate) fn is_alive_status(status: ActorStatus) -> bool {
    matches!(
        status,
        ActorStatus::Unstarted
            | ActorStatus::Starting
            | ActorStatus::Running
            | ActorStatus::Upgrading
    )
}

/// Whether `actor` is alive (starting, running, or upgrading), as Erlang's `is_process_alive/1`.
pub fn is_alive(actor: &ractor::ActorCell) -> bool {
    is_alive_status(actor.get_status())
}

//! Iqs the server itself sends to an entity (a disco#info query to learn a client's
//! capabilities) and the answers it waits for.
//!
//! [`Router::request`](super::Router::request) gives the iq an id of its own, remembers it, routes
//! it, and waits for the `result` or `error` iq with that id coming back to the server. An
//! answer counts only if it comes from the JID the request went to, so another client cannot
//! answer in its place. At most [`PENDING_REQUESTS_MAX`] requests wait at once; each waits at
//! most the timeout its caller gives, after which it hears `None` and is forgotten.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;

use crate::jid::Jid;
use crate::xml::Element;

/// Requests waiting for their answer at most, on one node.
pub const PENDING_REQUESTS_MAX: usize = 10_000;

/// Why a request got no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// [`PENDING_REQUESTS_MAX`] requests are already waiting.
    #[error("too many requests waiting for an answer")]
    TooMany,
    /// No answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The request had no `to`, or one that is not a JID.
    #[error("the request has no valid to")]
    NoRecipient,
}

/// What to do with a request's answer: `Some(answer)`, or `None` when its time is up.
pub type OnAnswer = Box<dyn FnOnce(Option<Element>) + Send>;

/// The requests waiting for an answer, by id.
#[derive(Default)]
pub(crate) struct Requests {
    next: AtomicU64,
    pending: Mutex<HashMap<String, Pending>>,
}

impl std::fmt::Debug for Requests {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Requests")
            .field("pending", &self.pending.lock().len())
            .finish()
    }
}

struct Pending {
    to: Jid,
    on_answer: OnAnswer,
}

impl Requests {
    /// Gives `iq` a fresh id and remembers it: `on_answer` runs with its answer, on the task
    /// that routes the answer (so before the answering session's next stanza is handled), or
    /// with `None` when [`Requests::expire`] is called for it.
    pub(crate) fn register(
        &self,
        iq: &mut Element,
        on_answer: OnAnswer,
    ) -> Result<String, RequestError> {
        let to = iq
            .attr("to")
            .and_then(|to| to.parse::<Jid>().ok())
            .ok_or(RequestError::NoRecipient)?;
        let id = format!("bream-{}", self.next.fetch_add(1, Ordering::Relaxed));
        let mut pending = self.pending.lock();
        if pending.len() >= PENDING_REQUESTS_MAX {
            return Err(RequestError::TooMany);
        }
        iq.set_attr("id", id.clone());
        pending.insert(id.clone(), Pending { to, on_answer });
        Ok(id)
    }

    /// Request `id`'s time is up: its `on_answer` runs with `None` if it is still waiting.
    pub(crate) fn expire(&self, id: &str) {
        let expired = self.pending.lock().remove(id);
        if let Some(request) = expired {
            (request.on_answer)(None);
        }
    }

    /// Hands `answer` (a result or error iq to the server) to its request; the answer back
    /// when it is none's.
    pub(crate) fn answer(&self, answer: Element) -> Result<(), Element> {
        let Some(id) = answer.attr("id") else {
            return Err(answer);
        };
        let from = answer
            .attr("from")
            .and_then(|from| from.parse::<Jid>().ok());
        let request = {
            let mut pending = self.pending.lock();
            match pending.get(id) {
                Some(request) if from.as_ref() == Some(&request.to) => {
                    let id = id.to_owned();
                    pending.remove(&id)
                }
                _ => None,
            }
        };
        match request {
            Some(request) => {
                (request.on_answer)(Some(answer));
                Ok(())
            }
            None => Err(answer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::NS_CLIENT;

    fn iq(to: &str) -> Element {
        Element::new("iq", NS_CLIENT)
            .with_attr("type", "get")
            .with_attr("to", to)
    }

    fn answer(id: &str, from: &str) -> Element {
        Element::new("iq", NS_CLIENT)
            .with_attr("type", "result")
            .with_attr("id", id)
            .with_attr("from", from)
    }

    /// A request whose answers land in the returned list.
    fn recorded(
        requests: &Requests,
        to: &str,
    ) -> (String, std::sync::Arc<Mutex<Vec<Option<Element>>>>) {
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&seen);
        let mut request = iq(to);
        let id = requests
            .register(
                &mut request,
                Box::new(move |answer| sink.lock().push(answer)),
            )
            .expect("registered");
        assert_eq!(request.attr("id"), Some(id.as_str()));
        (id, seen)
    }

    #[test]
    fn only_the_asked_entity_answers_and_only_once() {
        let requests = Requests::default();
        let (id, seen) = recorded(&requests, "juliet@example.com/balcony");
        assert!(requests
            .answer(answer(&id, "romeo@example.com/garden"))
            .is_err());
        assert!(seen.lock().is_empty());
        assert!(requests
            .answer(answer(&id, "juliet@example.com/balcony"))
            .is_ok());
        assert!(requests
            .answer(answer(&id, "juliet@example.com/balcony"))
            .is_err());
        assert!(requests
            .answer(answer("unknown", "juliet@example.com/balcony"))
            .is_err());
        requests.expire(&id);
        let seen = seen.lock();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].is_some());
    }

    #[test]
    fn an_expired_request_hears_none_and_takes_no_late_answer() {
        let requests = Requests::default();
        let (id, seen) = recorded(&requests, "juliet@example.com/balcony");
        requests.expire(&id);
        assert!(requests
            .answer(answer(&id, "juliet@example.com/balcony"))
            .is_err());
        assert_eq!(seen.lock().as_slice(), &[None]);
    }

    #[test]
    fn a_request_without_a_recipient_is_refused() {
        let requests = Requests::default();
        let mut request = Element::new("iq", NS_CLIENT);
        assert_eq!(
            requests.register(&mut request, Box::new(|_| {})).err(),
            Some(RequestError::NoRecipient)
        );
    }
}

//! Who is up, as a plain state machine: session and heartbeat facts in, actions out.
//!
//! ractor_cluster reports sessions (opened, authenticated, ready, closed) by a per-connection
//! number, and a peer's agent appears through process-group sync. A peer is **up** once its
//! session is ready and its agent is known; it is **down** when its session closes or when
//! nothing was heard from it for longer than the heartbeat deadline, in which case the session
//! is cut so nothing waits on the kernel's TCP timeout. A session that closes before it
//! authenticated is a refused connection attempt: with the peer's name known, its cookie was
//! refused; otherwise the handshake failed.
//!
//! A peer can be **cut** ([`Membership::cut`], the fault kit's partition): nothing is sent to
//! it or taken from it any more, heartbeats included, so each side declares the other down by
//! the heartbeat deadline, as in a real partition (this side leaves the session for the peer
//! to cut at its own deadline, which it would not hear of otherwise); a new session from or to
//! it is cut as soon as it authenticates, so it never comes up again until
//! [`Membership::heal`].
//!
//! No I/O and no clock of its own: the agent actor feeds it and carries out its [`Action`]s,
//! and the tests drive it directly.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// ractor_cluster's per-connection session number.
pub type SessionId = u64;

/// Why a peer went down.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum DownReason {
    /// Its connection closed (the process died, or it disconnected).
    ConnectionClosed,
    /// Nothing was heard from it within the heartbeat deadline (frozen or cut off).
    HeartbeatMissed,
    /// This node is shutting down.
    Shutdown,
}

impl std::fmt::Display for DownReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DownReason::ConnectionClosed => "connection closed",
            DownReason::HeartbeatMissed => "heartbeat missed",
            DownReason::Shutdown => "shutdown",
        })
    }
}

/// Why a connection attempt failed after the TCP connection was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefusedReason {
    /// The peer named itself, then the cookie exchange failed.
    CookieRefused,
    /// The session closed before the peer even named itself.
    HandshakeFailed,
}

/// What the agent must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action<A> {
    /// Announce the peer as up.
    Up {
        /// The peer's node name.
        name: String,
        /// The session address, to complete a pending `connect`.
        address: String,
    },
    /// Announce the peer as down, fail what waits on it.
    Down {
        /// The peer's node name.
        name: String,
        /// Why.
        reason: DownReason,
    },
    /// Cut this session (the peer missed its heartbeat).
    Disconnect(SessionId),
    /// Send a heartbeat to this agent.
    Ping(A),
    /// A connection attempt to `address` was refused.
    Refused {
        /// The address connected to.
        address: String,
        /// Why.
        reason: RefusedReason,
    },
}

#[derive(Clone, Debug)]
struct Session<A> {
    address: String,
    name: Option<String>,
    authenticated: bool,
    ready: bool,
    agent: Option<A>,
}

#[derive(Clone, Debug)]
struct Peer<A> {
    session: SessionId,
    agent: A,
    last_heard: Instant,
}

/// The membership of this node's cluster as seen from here.
#[derive(Debug)]
pub struct Membership<A> {
    deadline: Duration,
    sessions: HashMap<SessionId, Session<A>>,
    up: BTreeMap<String, Peer<A>>,
    /// Peers whose session closed while another session to them was still being set up
    /// (ractor keeps one of two simultaneous connections), with when: never announced down, so
    /// still listed as up (an observer of the events must agree with [`Membership::up_nodes`]),
    /// but with no agent to send to until the other session is ready, or down if it is not
    /// ready within the deadline.
    switching: BTreeMap<String, Instant>,
    /// Peers cut off by fault injection.
    cut: BTreeSet<String>,
}

impl<A: Clone> Membership<A> {
    /// Peers silent for longer than `deadline` are declared down.
    pub fn new(deadline: Duration) -> Self {
        Membership {
            deadline,
            sessions: HashMap::new(),
            up: BTreeMap::new(),
            switching: BTreeMap::new(),
            cut: BTreeSet::new(),
        }
    }

    /// Cuts this node off from `name`: from now on nothing goes to it or is taken from it.
    pub fn cut(&mut self, name: &str) {
        self.cut.insert(name.to_string());
    }

    /// Ends a cut; whether `name` was cut. Reconnecting is discovery's job.
    pub fn heal(&mut self, name: &str) -> bool {
        self.cut.remove(name)
    }

    /// Whether `name` is cut off.
    pub fn is_cut(&self, name: &str) -> bool {
        self.cut.contains(name)
    }

    /// The peers cut off, by name.
    pub fn cut_nodes(&self) -> Vec<String> {
        self.cut.iter().cloned().collect()
    }

    /// The peers that are up, by name, including those switching sessions.
    pub fn up_nodes(&self) -> Vec<String> {
        let names: BTreeSet<&String> = self.up.keys().chain(self.switching.keys()).collect();
        names.into_iter().cloned().collect()
    }

    /// Whether `name` is up (or switching sessions).
    pub fn is_up(&self, name: &str) -> bool {
        self.up.contains_key(name) || self.switching.contains_key(name)
    }

    /// The agent of an up peer that is not cut off: the only way to send to a peer.
    pub fn agent(&self, name: &str) -> Option<&A> {
        if self.cut.contains(name) {
            return None;
        }
        self.up.get(name).map(|peer| &peer.agent)
    }

    /// The name of the peer behind a session, if it named itself.
    pub fn session_name(&self, session: SessionId) -> Option<&str> {
        self.sessions.get(&session)?.name.as_deref()
    }

    /// The address of a session.
    pub fn session_address(&self, session: SessionId) -> Option<&str> {
        self.sessions
            .get(&session)
            .map(|entry| entry.address.as_str())
    }

    /// A TCP session opened (either direction).
    pub fn session_opened(&mut self, session: SessionId, address: String) {
        self.session_entry(session).address = address;
    }

    /// Facts about a session may arrive before its opening is reported (process-group sync
    /// and session events travel separately), so any of them creates the entry.
    fn session_entry(&mut self, session: SessionId) -> &mut Session<A> {
        self.sessions.entry(session).or_insert_with(|| Session {
            address: String::new(),
            name: None,
            authenticated: false,
            ready: false,
            agent: None,
        })
    }

    /// The peer named itself (ractor learns the name during the handshake).
    pub fn session_named(&mut self, session: SessionId, name: String) {
        self.session_entry(session).name = Some(name);
    }

    /// The cookie exchange succeeded. A session with a cut-off peer is cut at once.
    pub fn session_authenticated(
        &mut self,
        session: SessionId,
        name: Option<String>,
    ) -> Vec<Action<A>> {
        let entry = self.session_entry(session);
        entry.authenticated = true;
        if name.is_some() {
            entry.name = name;
        }
        let name = entry.name.clone();
        let cut = name.is_some_and(|name| self.cut.contains(&name));
        if cut {
            vec![Action::Disconnect(session)]
        } else {
            Vec::new()
        }
    }

    /// The session finished its state exchange.
    pub fn session_ready(
        &mut self,
        session: SessionId,
        name: Option<String>,
        now: Instant,
    ) -> Vec<Action<A>> {
        let entry = self.session_entry(session);
        entry.ready = true;
        entry.authenticated = true;
        if name.is_some() {
            entry.name = name;
        }
        self.promote(session, now)
    }

    /// The peer's agent appeared on this session.
    pub fn agent_joined(&mut self, session: SessionId, agent: A, now: Instant) -> Vec<Action<A>> {
        self.session_entry(session).agent = Some(agent);
        self.promote(session, now)
    }

    fn promote(&mut self, session: SessionId, now: Instant) -> Vec<Action<A>> {
        let Some(entry) = self.sessions.get(&session) else {
            return Vec::new();
        };
        let (Some(name), Some(agent), true) = (&entry.name, &entry.agent, entry.ready) else {
            return Vec::new();
        };
        if self.cut.contains(name) {
            return vec![Action::Disconnect(session)];
        }
        if self
            .up
            .get(name)
            .is_some_and(|peer| peer.session == session)
        {
            return Vec::new();
        }
        let was_up = self.up.insert(
            name.clone(),
            Peer {
                session,
                agent: agent.clone(),
                last_heard: now,
            },
        );
        if was_up.is_some() || self.switching.remove(name).is_some() {
            // A second session to the same peer replaced the first; it was never down.
            return Vec::new();
        }
        vec![Action::Up {
            name: name.clone(),
            address: entry.address.clone(),
        }]
    }

    /// A session closed at `now` (a peer left switching sessions is timed from then).
    pub fn session_closed(&mut self, session: SessionId, now: Instant) -> Vec<Action<A>> {
        let Some(entry) = self.sessions.remove(&session) else {
            return Vec::new();
        };
        if let Some(name) = &entry.name {
            let other_session = self
                .sessions
                .iter()
                .find(|(_, other)| other.name.as_deref() == Some(name.as_str()))
                .map(|(id, _)| *id);
            let carried_up = self
                .up
                .get(name)
                .is_some_and(|peer| peer.session == session);
            if carried_up && self.cut.contains(name) {
                // A partition hides the peer closing the connection as it hides everything
                // else: the peer stays listed until its heartbeat deadline passes in `tick`.
                return Vec::new();
            }
            if carried_up {
                self.up.remove(name);
                return match other_session {
                    Some(other) => {
                        self.switching.insert(name.clone(), now);
                        self.promote(other, now)
                    }
                    None => vec![Action::Down {
                        name: name.clone(),
                        reason: DownReason::ConnectionClosed,
                    }],
                };
            }
            if other_session.is_none() && self.switching.remove(name).is_some() {
                return vec![Action::Down {
                    name: name.clone(),
                    reason: DownReason::ConnectionClosed,
                }];
            }
            if self.up.contains_key(name) || other_session.is_some() {
                // Another session to the same peer carries on (ractor keeps one of two
                // simultaneous connections).
                return Vec::new();
            }
        }
        if entry.authenticated {
            return Vec::new();
        }
        let reason = if entry.name.is_some() {
            RefusedReason::CookieRefused
        } else {
            RefusedReason::HandshakeFailed
        };
        vec![Action::Refused {
            address: entry.address,
            reason,
        }]
    }

    /// Something arrived from `name`: it is alive.
    pub fn heard_from(&mut self, name: &str, now: Instant) {
        if self.cut.contains(name) {
            return;
        }
        if let Some(peer) = self.up.get_mut(name) {
            peer.last_heard = peer.last_heard.max(now);
        }
    }

    /// The heartbeat timer fired: ping the live, give up on the silent.
    pub fn tick(&mut self, now: Instant) -> Vec<Action<A>> {
        let mut actions = Vec::new();
        let silent: Vec<String> = self
            .up
            .iter()
            .filter(|(_, peer)| now.saturating_duration_since(peer.last_heard) > self.deadline)
            .map(|(name, _)| name.clone())
            .collect();
        for name in silent {
            if let Some(peer) = self.up.remove(&name) {
                // Cutting a cut peer's session would tell it at once ("connection closed"); in a
                // partition it learns by its own deadline, and cuts the session then.
                if !self.cut.contains(&name) {
                    self.sessions.remove(&peer.session);
                    actions.push(Action::Disconnect(peer.session));
                }
                actions.push(Action::Down {
                    name,
                    reason: DownReason::HeartbeatMissed,
                });
            }
        }
        let stalled: Vec<String> = self
            .switching
            .iter()
            .filter(|(_, since)| now.saturating_duration_since(**since) > self.deadline)
            .map(|(name, _)| name.clone())
            .collect();
        for name in stalled {
            self.switching.remove(&name);
            let pending: Vec<SessionId> = self
                .sessions
                .iter()
                .filter(|(_, session)| session.name.as_deref() == Some(name.as_str()))
                .map(|(id, _)| *id)
                .collect();
            for session in pending {
                self.sessions.remove(&session);
                actions.push(Action::Disconnect(session));
            }
            actions.push(Action::Down {
                name,
                reason: DownReason::HeartbeatMissed,
            });
        }
        actions.extend(
            self.up
                .iter()
                .filter(|(name, _)| !self.cut.contains(*name))
                .map(|(_, peer)| Action::Ping(peer.agent.clone())),
        );
        actions
    }

    /// This node stops: every peer is down.
    pub fn shutdown(&mut self) -> Vec<Action<A>> {
        let names: BTreeSet<String> = std::mem::take(&mut self.up)
            .into_keys()
            .chain(std::mem::take(&mut self.switching).into_keys())
            .collect();
        let actions = names
            .into_iter()
            .map(|name| Action::Down {
                name,
                reason: DownReason::Shutdown,
            })
            .collect();
        self.sessions.clear();
        actions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready_peer(
        membership: &mut Membership<&'static str>,
        session: u64,
        name: &str,
        now: Instant,
    ) -> Vec<Action<&'static str>> {
        membership.session_opened(session, format!("127.0.0.1:{session}"));
        membership.session_named(session, name.to_string());
        let mut actions = membership.session_authenticated(session, None);
        actions.extend(membership.session_ready(session, None, now));
        actions.extend(membership.agent_joined(session, "agent", now));
        actions
    }

    #[test]
    fn a_peer_is_up_once_ready_and_its_agent_is_known() {
        let now = Instant::now();
        let mut membership = Membership::new(Duration::from_secs(5));
        membership.session_opened(1, "127.0.0.1:1".into());
        membership.session_named(1, "b@h".into());
        assert!(membership.agent_joined(1, "agent", now).is_empty());
        let actions = membership.session_ready(1, None, now);
        assert_eq!(
            actions,
            vec![Action::Up {
                name: "b@h".into(),
                address: "127.0.0.1:1".into()
            }]
        );
        assert_eq!(membership.up_nodes(), ["b@h"]);
    }

    #[test]
    fn a_silent_peer_is_cut_after_the_deadline_and_a_live_one_is_pinged() {
        let start = Instant::now();
        let mut membership = Membership::new(Duration::from_secs(1));
        ready_peer(&mut membership, 1, "quiet@h", start);
        ready_peer(&mut membership, 2, "chatty@h", start);
        membership.heard_from("chatty@h", start + Duration::from_millis(900));
        assert_eq!(
            membership.tick(start + Duration::from_millis(500)),
            vec![Action::Ping("agent"), Action::Ping("agent")]
        );
        let actions = membership.tick(start + Duration::from_millis(1500));
        assert_eq!(
            actions,
            vec![
                Action::Disconnect(1),
                Action::Down {
                    name: "quiet@h".into(),
                    reason: DownReason::HeartbeatMissed
                },
                Action::Ping("agent"),
            ]
        );
        // The cut session's close event later changes nothing.
        assert!(membership.session_closed(1, Instant::now()).is_empty());
        assert_eq!(membership.up_nodes(), ["chatty@h"]);
    }

    #[test]
    fn a_cut_peer_is_neither_sent_to_nor_heard_and_goes_down_by_the_deadline() {
        let start = Instant::now();
        let mut membership = Membership::new(Duration::from_secs(1));
        ready_peer(&mut membership, 1, "b@h", start);
        membership.cut("b@h");
        assert!(membership.is_cut("b@h"));
        assert_eq!(membership.agent("b@h"), None);
        // What it still sends is not a sign of life.
        membership.heard_from("b@h", start + Duration::from_millis(900));
        assert_eq!(membership.tick(start + Duration::from_millis(500)), vec![]);
        // Down, but the session is left for the peer to cut when its own deadline passes.
        assert_eq!(
            membership.tick(start + Duration::from_millis(1500)),
            vec![Action::Down {
                name: "b@h".into(),
                reason: DownReason::HeartbeatMissed
            }]
        );
        assert!(membership.session_closed(1, Instant::now()).is_empty());
        assert!(membership.up_nodes().is_empty());
    }

    #[test]
    fn a_cut_peer_closing_its_session_first_still_goes_down_by_the_deadline() {
        // The peer's deadline may pass before ours: its closing the session must not tell us.
        let start = Instant::now();
        let mut membership = Membership::new(Duration::from_secs(1));
        ready_peer(&mut membership, 1, "b@h", start);
        membership.cut("b@h");
        assert!(membership.session_closed(1, Instant::now()).is_empty());
        assert_eq!(membership.up_nodes(), ["b@h"]);
        assert_eq!(
            membership.tick(start + Duration::from_millis(1500)),
            vec![Action::Down {
                name: "b@h".into(),
                reason: DownReason::HeartbeatMissed
            }]
        );
        assert!(membership.up_nodes().is_empty());
    }

    #[test]
    fn a_session_with_a_cut_peer_is_cut_until_healed() {
        let now = Instant::now();
        let mut membership = Membership::new(Duration::from_secs(5));
        membership.cut("b@h");
        let actions = ready_peer(&mut membership, 1, "b@h", now);
        assert!(actions.contains(&Action::Disconnect(1)), "{actions:?}");
        assert!(!actions
            .iter()
            .any(|action| matches!(action, Action::Up { .. })));
        assert!(membership.session_closed(1, Instant::now()).is_empty());
        assert!(membership.up_nodes().is_empty());
        assert!(membership.heal("b@h"));
        assert!(!membership.heal("b@h"));
        let actions = ready_peer(&mut membership, 2, "b@h", now);
        assert_eq!(
            actions,
            vec![Action::Up {
                name: "b@h".into(),
                address: "127.0.0.1:2".into()
            }]
        );
    }

    #[test]
    fn a_closed_session_takes_its_peer_down() {
        let now = Instant::now();
        let mut membership = Membership::new(Duration::from_secs(5));
        ready_peer(&mut membership, 1, "b@h", now);
        assert_eq!(
            membership.session_closed(1, Instant::now()),
            vec![Action::Down {
                name: "b@h".into(),
                reason: DownReason::ConnectionClosed
            }]
        );
        assert!(!membership.is_up("b@h"));
    }

    #[test]
    fn refused_attempts_say_why() {
        let mut membership: Membership<&str> = Membership::new(Duration::from_secs(5));
        membership.session_opened(1, "127.0.0.1:1".into());
        membership.session_named(1, "b@h".into());
        assert_eq!(
            membership.session_closed(1, Instant::now()),
            vec![Action::Refused {
                address: "127.0.0.1:1".into(),
                reason: RefusedReason::CookieRefused
            }]
        );
        membership.session_opened(2, "127.0.0.1:2".into());
        assert_eq!(
            membership.session_closed(2, Instant::now()),
            vec![Action::Refused {
                address: "127.0.0.1:2".into(),
                reason: RefusedReason::HandshakeFailed
            }]
        );
    }

    #[test]
    fn a_duplicate_session_neither_ups_nor_downs_the_peer() {
        let now = Instant::now();
        let mut membership = Membership::new(Duration::from_secs(5));
        ready_peer(&mut membership, 1, "b@h", now);
        membership.session_opened(2, "127.0.0.1:2".into());
        membership.session_named(2, "b@h".into());
        assert!(
            membership.session_closed(2, Instant::now()).is_empty(),
            "the loser of ractor's election"
        );
        assert!(membership.is_up("b@h"));
    }

    #[test]
    fn a_restarted_peer_comes_back_up() {
        let now = Instant::now();
        let mut membership = Membership::new(Duration::from_secs(5));
        ready_peer(&mut membership, 1, "b@h", now);
        membership.session_closed(1, Instant::now());
        let actions = ready_peer(&mut membership, 7, "b@h", now);
        assert_eq!(
            actions,
            vec![Action::Up {
                name: "b@h".into(),
                address: "127.0.0.1:7".into()
            }]
        );
    }

    #[test]
    fn a_peer_switching_sessions_stays_up_until_the_other_session_is_ready_or_too_late() {
        let now = Instant::now();
        let deadline = Duration::from_secs(5);
        let mut membership = Membership::new(deadline);
        ready_peer(&mut membership, 1, "b@h", now);
        membership.session_opened(2, "127.0.0.1:2".into());
        membership.session_named(2, "b@h".into());
        assert!(
            membership.session_closed(1, Instant::now()).is_empty(),
            "not announced down"
        );
        assert_eq!(membership.up_nodes(), vec!["b@h".to_string()]);
        assert_eq!(membership.agent("b@h"), None, "no session to send on yet");

        let later = Instant::now() + deadline + Duration::from_millis(1);
        assert_eq!(
            membership.tick(later),
            vec![
                Action::Disconnect(2),
                Action::Down {
                    name: "b@h".into(),
                    reason: DownReason::HeartbeatMissed
                }
            ]
        );
        assert!(membership.up_nodes().is_empty());
    }

    #[test]
    fn a_peer_switching_sessions_comes_up_on_the_other_session_without_an_event() {
        let now = Instant::now();
        let mut membership = Membership::new(Duration::from_secs(5));
        ready_peer(&mut membership, 1, "b@h", now);
        membership.session_opened(2, "127.0.0.1:2".into());
        membership.session_named(2, "b@h".into());
        membership.session_closed(1, Instant::now());
        let mut actions = membership.session_authenticated(2, None);
        actions.extend(membership.session_ready(2, None, now));
        actions.extend(membership.agent_joined(2, "agent of b@h", now));
        assert!(actions.is_empty(), "{actions:?}");
        assert_eq!(membership.agent("b@h"), Some(&"agent of b@h"));
    }
}

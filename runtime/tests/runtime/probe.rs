//! A test actor that does what it is told, and writes its lifecycle to a shared log.

use std::sync::Arc;
use std::time::Duration;

use bream_runtime::ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use bream_runtime::supervisor::ChildSpec;
use parking_lot::Mutex;

/// Lines like `start:a` and `stop:a`, in the order they happened.
#[derive(Clone, Default)]
pub(crate) struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub(crate) fn push(&self, line: String) {
        self.0.lock().push(line);
    }

    pub(crate) fn lines(&self) -> Vec<String> {
        self.0.lock().clone()
    }

    /// The lines starting with `prefix`, without it.
    pub(crate) fn with_prefix(&self, prefix: &str) -> Vec<String> {
        self.lines()
            .iter()
            .filter_map(|line| line.strip_prefix(prefix).map(str::to_string))
            .collect()
    }

    pub(crate) fn clear(&self) {
        self.0.lock().clear();
    }
}

pub(crate) enum ProbeMsg {
    /// Answers the probe's name.
    Ping(RpcReplyPort<String>),
    /// Never answers.
    Swallow(RpcReplyPort<String>),
    /// Blocks the handler for this long (so a stop request waits behind it).
    Block(Duration),
    /// Returns an error from the handler: an abnormal exit.
    Fail,
    /// Stops itself normally.
    Finish,
    /// Stops itself with `shutdown`.
    FinishShutdown,
}

bream_runtime::local_message!(ProbeMsg);

pub(crate) struct Probe {
    pub name: String,
    pub log: Log,
    /// Fail in pre_start.
    pub fail_start: bool,
}

impl Actor for Probe {
    type Msg = ProbeMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        _args: (),
    ) -> Result<(), ActorProcessingErr> {
        if self.fail_start {
            self.log.push(format!("failstart:{}", self.name));
            return Err(format!("{} refuses to start", self.name).into());
        }
        self.log.push(format!("start:{}", self.name));
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        _state: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        self.log.push(format!("stop:{}", self.name));
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: ProbeMsg,
        _state: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ProbeMsg::Ping(reply) => {
                let _ = reply.send(self.name.clone());
            }
            ProbeMsg::Swallow(reply) => std::mem::forget(reply),
            ProbeMsg::Block(duration) => tokio::time::sleep(duration).await,
            ProbeMsg::Fail => return Err(format!("{} failed", self.name).into()),
            ProbeMsg::Finish => myself.stop(None),
            ProbeMsg::FinishShutdown => myself.stop(Some("shutdown".into())),
        }
        Ok(())
    }
}

impl Probe {
    /// A probe named `name` that starts normally, logging to `log`.
    pub(crate) fn new(name: impl Into<String>, log: &Log) -> Probe {
        Probe {
            name: name.into(),
            log: log.clone(),
            fail_start: false,
        }
    }
}

/// Spawns a probe named `name` with a log of its own: for tests that watch the actor, not
/// its log.
pub(crate) async fn spawn_probe(name: &str) -> ActorRef<ProbeMsg> {
    Actor::spawn(None, Probe::new(name, &Log::default()), ())
        .await
        .expect("spawn")
        .0
}

/// A permanent probe worker named `name`.
pub(crate) fn probe(name: &str, log: &Log) -> ChildSpec {
    probe_spec(name, log, false)
}

/// A probe that fails to start.
pub(crate) fn failing_probe(name: &str, log: &Log) -> ChildSpec {
    probe_spec(name, log, true)
}

/// The child spec of [`probe`] and [`failing_probe`]: each start makes a new probe.
fn probe_spec(name: &str, log: &Log, fail_start: bool) -> ChildSpec {
    let (name, log) = (name.to_string(), log.clone());
    ChildSpec::actor(
        name.clone(),
        move || Probe {
            name: name.clone(),
            log: log.clone(),
            fail_start,
        },
        || (),
    )
}

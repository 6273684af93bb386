//! A minimal supervised server: a counter driven with cast (increment) and call (read).
//!
//! It crashes the counter on purpose once, to show the supervisor restarting it (with its
//! state reset, as an Erlang gen_server's would be), then stops the tree in order.

use std::time::Duration;

use bream_runtime::call::{call, cast};
use bream_runtime::fault;
use bream_runtime::ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use bream_runtime::registry;
use bream_runtime::supervisor::{ChildSpec, Supervisor, SupervisorEvent, SupervisorSpec};
use bream_runtime::testkit::wait_for_event;

enum CounterMsg {
    Increment(u64),
    Get(RpcReplyPort<u64>),
}

bream_runtime::local_message!(CounterMsg);

struct Counter;

impl Actor for Counter {
    type Msg = CounterMsg;
    type State = u64;
    type Arguments = ();

    async fn pre_start(
        &self,
        myself: ActorRef<CounterMsg>,
        _: (),
    ) -> Result<u64, ActorProcessingErr> {
        // Registered on every (re)start, so clients always find the current incarnation.
        registry::register("counter", &myself.get_cell())?;
        Ok(0)
    }

    async fn handle(
        &self,
        _: ActorRef<CounterMsg>,
        message: CounterMsg,
        count: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            CounterMsg::Increment(by) => *count += by,
            CounterMsg::Get(reply) => {
                let _ = reply.send(*count);
            }
        }
        Ok(())
    }
}

fn counter() -> anyhow::Result<ActorRef<CounterMsg>> {
    registry::whereis_ref("counter").ok_or_else(|| anyhow::anyhow!("counter not registered"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The injected panic is expected: one line instead of a backtrace.
    std::panic::set_hook(Box::new(|info| println!("(panic: {info})")));
    let spec =
        SupervisorSpec::new("counter_sup").child(ChildSpec::actor("counter", || Counter, || ()));
    let mut events = spec.subscribe();
    let supervisor = Supervisor::start(spec).await?;

    for by in 1..=10 {
        cast(&counter()?, CounterMsg::Increment(by))
            .map_err(|_| anyhow::anyhow!("counter is gone"))?;
    }
    println!(
        "count after ten casts: {}",
        call(&counter()?, CounterMsg::Get).await?
    );

    println!("injecting a panic into the counter's next message");
    fault::panic_next(&counter()?.get_cell())?;
    let _ = cast(&counter()?, CounterMsg::Increment(1));
    let restarted = wait_for_event(&mut events, Duration::from_secs(5), |event| {
        matches!(event, SupervisorEvent::ChildRestarted { .. })
    })
    .await?;
    println!("supervisor: {restarted:?}");
    println!(
        "count after the restart: {}",
        call(&counter()?, CounterMsg::Get).await?
    );

    supervisor.shutdown(Duration::from_secs(5)).await;
    println!("stopped");
    Ok(())
}

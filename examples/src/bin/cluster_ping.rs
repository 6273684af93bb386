//! Nodes that find each other through an SQL registry and ping each other.
//!
//! Run three shells on one machine (the registry is one SQLite file they share):
//!
//! ```text
//! cargo run -p bream-examples --bin cluster_ping -- --name a --port 4371
//! cargo run -p bream-examples --bin cluster_ping -- --name b --port 4372
//! cargo run -p bream-examples --bin cluster_ping -- --name c --port 4373
//! ```
//!
//! Each node registers itself in the registry, connects to the others, holds a global name
//! `ping@<node>`, and every two seconds calls every other node's ping and prints the round trip.
//! Kill one (ctrl-c, or `kill -9`) and the others print `DOWN`; start it again and they print
//! `UP`. `--registry postgres://postgres@127.0.0.1/test` uses PostgreSQL instead; `--rounds N`
//! stops after N rounds.

use std::time::{Duration, Instant};

use bream_examples::{start_node, NodeArgs, StartedNode};
use bream_runtime::node::RemoteMessage;
use bream_runtime::ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use clap::Parser;

#[derive(Parser)]
struct Options {
    #[command(flatten)]
    node: NodeArgs,
    /// Stop after this many ping rounds (default: run until ctrl-c).
    #[arg(long)]
    rounds: Option<u64>,
}

/// Answers pings with its node's name.
struct Pong {
    node: String,
}

enum PongMsg {
    /// A ping; a cast carries no reply port.
    Ping(Option<RpcReplyPort<String>>),
}

bream_runtime::local_message!(PongMsg);

impl RemoteMessage for PongMsg {
    type Request = ();
    type Response = String;

    fn from_remote(_: (), reply: Option<RpcReplyPort<String>>) -> Self {
        PongMsg::Ping(reply)
    }
}

impl Actor for Pong {
    type Msg = PongMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<PongMsg>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<PongMsg>,
        message: PongMsg,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        let PongMsg::Ping(reply) = message;
        if let Some(reply) = reply {
            let _ = reply.send(self.node.clone());
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    let StartedNode {
        node,
        name,
        address,
        registry,
    } = start_node(&options.node, "cluster_ping", |_| {}).await?;
    let (pong, _) = Actor::spawn(None, Pong { node: name.clone() }, ()).await?;
    node.register_global(&format!("ping@{name}"), &pong)?;
    println!("{name} started on {address}, registry {registry}");

    let mut round = 0;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
        round += 1;
        let status = node.status();
        println!(
            "round {round}: node_num {:?}, connected {:?}, unavailable {:?}",
            status.node_num, status.connected, status.unavailable
        );
        for peer in node.nodes() {
            let started = Instant::now();
            match node
                .call::<(), String>(&format!("ping@{peer}"), &(), Duration::from_secs(1))
                .await
            {
                Ok(answer) => println!("  pong from {answer} in {:?}", started.elapsed()),
                Err(error) => println!("  ping {peer} failed: {error}"),
            }
        }
        if options.rounds.is_some_and(|rounds| round >= rounds) {
            break;
        }
    }
    node.shutdown().await;
    println!("{name} stopped");
    Ok(())
}

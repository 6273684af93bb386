//! The test node: one Bream node per process, driven over stdin/stdout. Tests start it through
//! `bream_tests::harness`.
//!
//! Output is one JSON object per line: `{"event":"started",...}`, `{"event":"up","node":..}`,
//! `{"event":"down","node":..,"reason":..}`, `{"event":"remote_down",..}`, and one answer per
//! command: `{"ok":..}` or `{"error":..}`.
//!
//! Commands: `nodes`, `status`, `connect ADDR`, `register NAME`, `call NAME TEXT TIMEOUT_MS`,
//! `sleep_call NAME SLEEP_MS TIMEOUT_MS`, `big_call NAME BYTES`, `monitor NAME`, `crash NAME`,
//! `cut NODE`, `heal NODE` (the fault kit's partition), `exit`.

use std::process::ExitCode;
use std::time::Duration;

use bream_runtime::node::{NodeTls, RemoteMessage};
use bream_runtime::ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use bream_tests::node_setup::{emit, run_program, start_node, NodeOptions};
use clap::Parser;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::AsyncBufReadExt;

/// Options of the test node.
#[derive(Parser, Debug)]
pub struct Options {
    /// Name, address, peers, discovery and heartbeats of the node.
    #[command(flatten)]
    pub node: NodeOptions,
    /// PEM certificate chain for node TLS (with --tls-key and --tls-ca).
    #[arg(long)]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key for node TLS.
    #[arg(long)]
    pub tls_key: Option<std::path::PathBuf>,
    /// PEM CA certificates peers must chain to.
    #[arg(long)]
    pub tls_ca: Option<std::path::PathBuf>,
    /// Largest frame, in bytes.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub frame_bytes_max: usize,
}

/// What the echo service is asked to do.
#[derive(Serialize, Deserialize, Debug)]
pub enum EchoRequest {
    /// Answer the text.
    Echo(String),
    /// Sleep this many milliseconds, then answer.
    Sleep(u64),
    /// Answer the blob's length.
    Blob(Vec<u8>),
    /// Count one (sent as a cast).
    Tally,
    /// Answer how many tallies arrived.
    Count,
}

/// The echo actor's messages.
pub enum EchoMsg {
    /// From another node (or this one).
    Remote(EchoRequest, Option<RpcReplyPort<String>>),
    /// Crash now.
    Crash,
}

bream_runtime::local_message!(EchoMsg);

impl RemoteMessage for EchoMsg {
    type Request = EchoRequest;
    type Response = String;

    fn from_remote(request: EchoRequest, reply: Option<RpcReplyPort<String>>) -> Self {
        EchoMsg::Remote(request, reply)
    }
}

struct Echo {
    node: String,
    tallies: std::sync::atomic::AtomicU64,
}

impl Actor for Echo {
    type Msg = EchoMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<EchoMsg>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle(
        &self,
        _: ActorRef<EchoMsg>,
        message: EchoMsg,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        match message {
            EchoMsg::Crash => return Err("crash requested".into()),
            EchoMsg::Remote(request, reply) => {
                let answer = match request {
                    EchoRequest::Echo(text) => format!("{text} from {}", self.node),
                    EchoRequest::Sleep(ms) => {
                        emit(json!({"event": "handling", "request": "sleep"}));
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        format!("slept {ms}")
                    }
                    EchoRequest::Blob(blob) => blob.len().to_string(),
                    EchoRequest::Tally => {
                        self.tallies
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        String::new()
                    }
                    EchoRequest::Count => self
                        .tallies
                        .load(std::sync::atomic::Ordering::Relaxed)
                        .to_string(),
                };
                if let Some(reply) = reply {
                    let _ = reply.send(answer);
                }
            }
        }
        Ok(())
    }
}

fn main() -> ExitCode {
    run_program(run(Options::parse()))
}

async fn run(options: Options) -> anyhow::Result<()> {
    let node = start_node(&options.node, |config| {
        config.frame_bytes_max = options.frame_bytes_max;
        if let (Some(cert), Some(key), Some(ca)) =
            (&options.tls_cert, &options.tls_key, &options.tls_ca)
        {
            config.tls = Some(NodeTls {
                certificate_chain: cert.clone(),
                private_key: key.clone(),
                ca_certificates: ca.clone(),
            });
        }
    })
    .await?;
    emit(json!({"event": "started", "node": node.name()}));

    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut echoes: Vec<(String, ActorRef<EchoMsg>)> = Vec::new();
    while let Some(line) = lines.next_line().await? {
        let words: Vec<&str> = line.split_whitespace().collect();
        let answer = match words.as_slice() {
            ["exit"] => break,
            ["nodes"] => json!({"ok": "nodes", "nodes": node.nodes()}),
            ["cut", peer] => {
                bream_runtime::fault::cut(&node, peer);
                json!({"ok": "cut", "cut": node.cut_nodes()})
            }
            ["heal", peer] => {
                let healed = bream_runtime::fault::heal(&node, peer);
                json!({"ok": "heal", "healed": healed, "cut": node.cut_nodes()})
            }
            ["status"] => {
                let status = node.status();
                json!({"ok": "status", "connected": status.connected, "discovered": status.discovered,
                       "unavailable": status.unavailable, "node_num": status.node_num,
                       "discovery_works": status.discovery_works})
            }
            ["connect", address] => match node.connect(address).await {
                Ok(peer) => json!({"ok": "connect", "node": peer}),
                Err(error) => json!({"error": error.to_string(), "kind": format!("{error:?}")}),
            },
            ["register", name] => {
                let (echo, _) = Actor::spawn(
                    None,
                    Echo {
                        node: node.name().to_string(),
                        tallies: Default::default(),
                    },
                    (),
                )
                .await?;
                match node.register_global(name, &echo) {
                    Ok(()) => {
                        echoes.push((name.to_string(), echo));
                        json!({"ok": "register", "name": name})
                    }
                    Err(error) => json!({"error": error.to_string()}),
                }
            }
            ["whereis", name] => json!({"ok": "whereis", "node": node.whereis_global(name)}),
            ["call", name, text, timeout] => {
                let timeout = Duration::from_millis(timeout.parse()?);
                remote_answer(
                    node.call::<_, String>(name, &EchoRequest::Echo(text.to_string()), timeout)
                        .await,
                )
            }
            ["sleep_call", name, sleep, timeout] => {
                let timeout = Duration::from_millis(timeout.parse()?);
                let started = std::time::Instant::now();
                let mut answer = remote_answer(
                    node.call::<_, String>(name, &EchoRequest::Sleep(sleep.parse()?), timeout)
                        .await,
                );
                answer["elapsed_ms"] = json!(started.elapsed().as_millis() as u64);
                answer
            }
            ["big_call", name, bytes] => {
                let blob = vec![7u8; bytes.parse()?];
                remote_answer(
                    node.call::<_, String>(name, &EchoRequest::Blob(blob), Duration::from_secs(5))
                        .await,
                )
            }
            ["monitor", name] => match node.monitor_global(name) {
                Ok(monitor) => {
                    let name = name.to_string();
                    tokio::spawn(async move {
                        if let Ok(reason) = monitor.down.await {
                            emit(
                                json!({"event": "remote_down", "name": name, "reason": format!("{reason:?}")}),
                            );
                        }
                    });
                    json!({"ok": "monitor"})
                }
                Err(error) => json!({"error": error.to_string()}),
            },
            ["crash", name] => match echoes.iter().find(|(held, _)| held == name) {
                Some((_, echo)) => {
                    let _ = echo.cast(EchoMsg::Crash);
                    json!({"ok": "crash"})
                }
                None => json!({"error": format!("no local echo {name}")}),
            },
            _ => json!({"error": format!("unknown command {line:?}")}),
        };
        emit(answer);
    }
    node.shutdown().await;
    Ok(())
}

fn remote_answer(result: Result<String, bream_runtime::node::RemoteError>) -> serde_json::Value {
    match result {
        Ok(reply) => json!({"ok": "call", "reply": reply}),
        Err(error) => json!({"error": error.to_string(), "kind": format!("{error:?}")}),
    }
}

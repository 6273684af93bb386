//! The supervisor of a sharded table's servers on one node.
//!
//! It owns the local table the shards share (so the table lives exactly as
//! long as the supervisor) and starts one server per shard, linked to it.
//! A shard's server cannot be restarted alone: it would come back empty and
//! unjoined while its siblings hold their records, and a join would merge
//! it back only if the joiner runs. So the supervisor is `one_for_all` with
//! no restarts: when a shard's server stops, it stops the others and
//! itself, and the table goes with them, as an unsharded table goes with
//! its server. A supervisor above it may start the table again; the joiner
//! then joins it back.

use bream_runtime::node::Node;
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::sync::oneshot;

use super::options::{ReplicatedOptions, WireKey, WireValue};
use super::server::{Arguments as ServerArguments, LocalTable, Server, ServerMsg};
use super::shard::Shard;
use crate::{Table, TableOptions};

/// The supervisor actor.
pub(crate) struct Supervisor<K, V>(std::marker::PhantomData<fn() -> (K, V)>);

impl<K, V> Supervisor<K, V> {
    pub(crate) fn new() -> Self {
        Supervisor(std::marker::PhantomData)
    }
}

/// The table (a reader handle) and the servers, by shard.
pub(crate) type Started<K, V> = (Table<K, V>, Vec<ActorRef<ServerMsg<K, V>>>);

/// What the supervisor starts from.
pub(crate) struct Arguments<K, V> {
    pub(crate) name: String,
    pub(crate) node: Node,
    pub(crate) options: ReplicatedOptions<K, V>,
    pub(crate) started_out: oneshot::Sender<Started<K, V>>,
}

/// The supervisor takes no messages.
pub(crate) enum SupervisorMsg {}

impl ractor::Message for SupervisorMsg {}

pub(crate) struct State<K, V> {
    name: String,
    servers: Vec<ActorRef<ServerMsg<K, V>>>,
}

impl<K: WireKey, V: WireValue> Actor for Supervisor<K, V> {
    type Msg = SupervisorMsg;
    type State = State<K, V>;
    type Arguments = Arguments<K, V>;

    async fn pre_start(
        &self,
        myself: ActorRef<SupervisorMsg>,
        arguments: Arguments<K, V>,
    ) -> Result<State<K, V>, ActorProcessingErr> {
        let Arguments {
            name,
            node,
            options,
            started_out,
        } = arguments;
        let table = Table::new(&name, &myself.get_cell(), TableOptions::new(options.kind))?;
        let count = options.shards;
        let mut servers = Vec::with_capacity(count);
        for index in 0..count {
            let arguments = ServerArguments {
                name: name.clone(),
                shard: Shard { index, count },
                node: node.clone(),
                replica: options.replica.clone(),
                // One handler call per node down: shard 0's.
                down_handler: if index == 0 {
                    options.down_handler.clone()
                } else {
                    None
                },
                peer_batch_records_max: options.peer_batch_records_max,
                table: LocalTable::Shared(table.clone()),
            };
            match Actor::spawn_linked(None, Server::new(), arguments, myself.get_cell()).await {
                Ok((server, _)) => servers.push(server),
                Err(error) => {
                    for server in &servers {
                        server.stop(None);
                    }
                    return Err(error.into());
                }
            }
        }
        let _ = started_out.send((table.without_owner_rights(), servers.clone()));
        tracing::info!(table = %name, shards = count, "sharded replicated table started");
        Ok(State { name, servers })
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<SupervisorMsg>,
        event: SupervisionEvent,
        state: &mut State<K, V>,
    ) -> Result<(), ActorProcessingErr> {
        let stopped = match &event {
            SupervisionEvent::ActorTerminated(cell, _, _)
            | SupervisionEvent::ActorFailed(cell, _) => Some(cell.get_id()),
            _ => None,
        };
        if let Some(id) = stopped {
            if state.servers.iter().any(|server| server.get_id() == id) {
                tracing::warn!(table = %state.name, server = %id,
                    "a shard's server stopped: stopping the table");
                myself.stop(Some(format!("shard server {id} stopped")));
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<SupervisorMsg>,
        state: &mut State<K, V>,
    ) -> Result<(), ActorProcessingErr> {
        for server in &state.servers {
            server.stop(None);
        }
        Ok(())
    }
}

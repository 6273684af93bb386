//! The node's supervision tree: what `bream-xmpp start` runs, one child per part, in
//! dependency order under a `rest_for_one` root.
//!
//! ```text
//! bream_xmpp (rest_for_one)
//! ├── metrics      Prometheus and health listener
//! ├── cluster      (only with [internal_databases.cets])
//! │   └── cluster_sup (one_for_all, no restarts)
//! │       ├── node (one_for_all, no restarts): server, agent, discovery
//! │       ├── session_table (one_for_all, no restarts): shard_0
//! │       ├── caps_table (one_for_all, no restarts): shard_0
//! │       ├── sm_table (one_for_all, no restarts): shard_0
//! │       └── relay
//! ├── c2s          c2s supervisor: listeners, sessions; the router
//! ├── graphql_admin
//! ├── graphql_user
//! └── readiness    keeps /health/ready true while the node can take clients
//! ```
//!
//! What a restart means, child by child (a restart also restarts every later child):
//! - `metrics`: the listener binds its address again; counters live in the process-wide
//!   recorder and are kept.
//! - `cluster`, and any process under it (`cluster_sup` and everything below it end together,
//!   and their end is the part's: see [`Cluster::supervisor`]): the node leaves the registry
//!   and its peers (they drop its sessions), starts
//!   again under the same name, and the session table rejoins its peers and resyncs from them
//!   (the local copy is rebuilt: records this node owned are gone, as their sessions were
//!   closed by the c2s restart that follows).
//! - `c2s`: every session is closed with `system-shutdown` and the listeners bind again;
//!   clients reconnect (and resume, once stream management exists). A new router is made and
//!   given to the cluster and to the APIs, which restart after it.
//! - `graphql_admin`, `graphql_user`: the listener binds again; a request in flight fails.
//!   A `server { stop }` already asked for is kept ([`Live::stop`]).
//! - `readiness`: recomputed at once.
//!
//! Each part publishes what later parts and [`crate::server::Server`] need in [`Live`], and
//! takes it back out when it stops.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bream_runtime::ractor::ActorCell;
use bream_runtime::supervisor::{
    supervision_tree, ProcessNode, Shutdown, Strategy, SupervisorRef, SupervisorSpec,
};
use parking_lot::RwLock;
use tokio::sync::watch;

use super::part::{part_child, Part};
use crate::api::admin::AdminApiHandle;
use crate::api::user::UserApiHandle;
use crate::c2s::C2sServer;
use crate::cluster::Cluster;
use crate::config::Config;
use crate::metrics::exporter::MetricsHandle;
use crate::router::Router;
use crate::storage::Storage;

/// The root supervisor's name.
pub const ROOT_NAME: &str = "bream_xmpp";

/// How many restarts in [`RESTART_PERIOD`] the root allows before it gives up (and the node
/// exits non-zero for its orchestrator to restart it, as `heart` would a BEAM node).
pub const RESTARTS_MAX: u32 = 5;

/// See [`RESTARTS_MAX`].
pub const RESTART_PERIOD: Duration = Duration::from_secs(10);

/// How long an HTTP listener part may take to stop (its own drain is shorter).
const LISTENER_SHUTDOWN: Duration = Duration::from_secs(10);

/// How long leaving the cluster may take.
const CLUSTER_SHUTDOWN: Duration = Duration::from_secs(15);

/// What the running parts publish for the parts after them and for the server's accessors.
pub(crate) struct Live {
    /// True while the node can take clients (`/health/ready`).
    pub ready: watch::Sender<bool>,
    /// Set by `mutation { server { stop } }`.
    pub stop: watch::Sender<bool>,
    /// When the node started (for `uptimeSeconds`, kept across API restarts).
    pub started_at: Instant,
    cluster: RwLock<Option<Arc<Cluster>>>,
    router: RwLock<Option<Arc<Router>>>,
    c2s_addrs: RwLock<Vec<SocketAddr>>,
    admin_addr: RwLock<Option<SocketAddr>>,
    user_addr: RwLock<Option<SocketAddr>>,
    metrics_addr: RwLock<Option<SocketAddr>>,
    /// The tree's root, once the application started.
    pub(crate) root: RwLock<Option<SupervisorRef>>,
    /// The c2s part's own supervisor, grafted under the part in the tree's view.
    c2s_supervisor: RwLock<Option<SupervisorRef>>,
}

impl Live {
    pub(crate) fn new() -> Arc<Live> {
        Arc::new(Live {
            ready: watch::channel(false).0,
            stop: watch::channel(false).0,
            started_at: Instant::now(),
            cluster: RwLock::new(None),
            router: RwLock::new(None),
            c2s_addrs: RwLock::new(Vec::new()),
            admin_addr: RwLock::new(None),
            user_addr: RwLock::new(None),
            metrics_addr: RwLock::new(None),
            root: RwLock::new(None),
            c2s_supervisor: RwLock::new(None),
        })
    }

    pub(crate) fn cluster(&self) -> Option<Arc<Cluster>> {
        self.cluster.read().clone()
    }

    pub(crate) fn router(&self) -> Option<Arc<Router>> {
        self.router.read().clone()
    }

    pub(crate) fn c2s_addrs(&self) -> Vec<SocketAddr> {
        self.c2s_addrs.read().clone()
    }

    pub(crate) fn admin_addr(&self) -> Option<SocketAddr> {
        *self.admin_addr.read()
    }

    pub(crate) fn user_addr(&self) -> Option<SocketAddr> {
        *self.user_addr.read()
    }

    pub(crate) fn metrics_addr(&self) -> Option<SocketAddr> {
        *self.metrics_addr.read()
    }
}

/// The node's processes, by the names of its supervision tree: what the admin API's `debug`
/// category shows and breaks.
#[derive(Clone)]
pub struct Processes(Arc<Live>);

impl Processes {
    pub(crate) fn new(live: &Arc<Live>) -> Processes {
        Processes(Arc::clone(live))
    }

    /// The tree as it is now, the c2s and cluster parts' own supervisors under them; `None` before the
    /// root has started or once it has stopped.
    pub async fn tree(&self) -> Option<ProcessNode> {
        let root = self.0.root.read().clone()?;
        let mut grafts = std::collections::HashMap::new();
        if let Some(c2s) = self.0.c2s_supervisor.read().clone() {
            grafts.insert(format!("{ROOT_NAME}/c2s"), c2s);
        }
        if let Some(cluster) = self.0.cluster() {
            grafts.insert(format!("{ROOT_NAME}/cluster"), cluster.supervisor().clone());
        }
        supervision_tree(&root, ROOT_NAME, &grafts).await.ok()
    }
}

/// Everything the parts are made from: the configuration, the storage, the modules (built
/// once; they hold no state of their own beyond the storage).
pub(crate) struct Inputs {
    pub config: Config,
    pub storage: Storage,
    pub built: super::BuiltModules,
    pub live: Arc<Live>,
}

/// The root supervisor's spec for `inputs`.
pub(crate) fn spec(inputs: Arc<Inputs>) -> SupervisorSpec {
    let mut root = SupervisorSpec::new(ROOT_NAME)
        .strategy(Strategy::RestForOne)
        .intensity(RESTARTS_MAX, RESTART_PERIOD)
        .child(part_child(
            "metrics",
            Shutdown::Timeout(LISTENER_SHUTDOWN),
            starter(&inputs, start_metrics),
        ));
    if super::cluster_settings(&inputs.config).is_some() {
        root = root.child(part_child(
            "cluster",
            Shutdown::Timeout(CLUSTER_SHUTDOWN),
            starter(&inputs, start_cluster),
        ));
    }
    let c2s_shutdown = inputs.config.general.shutdown_timeout + LISTENER_SHUTDOWN;
    root.child(part_child(
        "c2s",
        Shutdown::Timeout(c2s_shutdown),
        starter(&inputs, start_c2s),
    ))
    .child(part_child(
        "graphql_admin",
        Shutdown::Timeout(LISTENER_SHUTDOWN),
        starter(&inputs, start_admin),
    ))
    .child(part_child(
        "graphql_user",
        Shutdown::Timeout(LISTENER_SHUTDOWN),
        starter(&inputs, start_user),
    ))
    .child(part_child(
        "readiness",
        Shutdown::Timeout(LISTENER_SHUTDOWN),
        starter(&inputs, start_readiness),
    ))
}

/// A part's start function over the shared inputs.
fn starter<P, F, Fut>(inputs: &Arc<Inputs>, start: F) -> super::part::StartPart<P>
where
    P: Part,
    F: Fn(Arc<Inputs>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<P>> + Send + 'static,
{
    let inputs = Arc::clone(inputs);
    Arc::new(move || Box::pin(start(Arc::clone(&inputs))))
}

/// The metrics listener (or nothing, when it is disabled).
struct MetricsPart(Option<MetricsHandle>, Arc<Live>);

async fn start_metrics(inputs: Arc<Inputs>) -> anyhow::Result<MetricsPart> {
    let live = &inputs.live;
    let handle =
        crate::metrics::exporter::start_from_config(&inputs.config, live.ready.subscribe()).await?;
    *live.metrics_addr.write() = handle.as_ref().map(MetricsHandle::local_addr);
    Ok(MetricsPart(handle, Arc::clone(live)))
}

impl Part for MetricsPart {
    async fn stop(self) {
        *self.1.metrics_addr.write() = None;
        if let Some(handle) = self.0 {
            handle.shutdown().await;
        }
    }
}

/// The cluster membership, session table and relay.
struct ClusterPart(Arc<Cluster>, Arc<Live>);

async fn start_cluster(inputs: Arc<Inputs>) -> anyhow::Result<ClusterPart> {
    let settings = super::cluster_settings(&inputs.config)
        .ok_or_else(|| anyhow::anyhow!("no [internal_databases.cets] section"))?;
    let cluster = Cluster::start(settings, Arc::clone(&inputs.built.contacts))
        .await
        .map_err(|error| error.context("cannot join the cluster"))?;
    let cluster = Arc::new(cluster);
    *inputs.live.cluster.write() = Some(Arc::clone(&cluster));
    Ok(ClusterPart(cluster, Arc::clone(&inputs.live)))
}

impl Part for ClusterPart {
    fn watched(&self) -> Option<ActorCell> {
        Some(self.0.supervisor().cell())
    }

    async fn stop(self) {
        *self.1.cluster.write() = None;
        self.0.leave().await;
    }
}

/// The c2s listeners and sessions, and the router they route through.
struct C2sPart(C2sServer, Arc<Live>);

async fn start_c2s(inputs: Arc<Inputs>) -> anyhow::Result<C2sPart> {
    let live = &inputs.live;
    let settings = super::c2s_settings(&inputs.config);
    let mut services = crate::c2s::Services::new(
        Arc::new(inputs.storage.clone()),
        Arc::clone(&inputs.built.offline),
    )
    .with_modules(inputs.built.modules.clone());
    if let Some(registration) = &inputs.built.registration {
        services = services.with_registration(Arc::clone(registration));
    }
    let cluster = live.cluster();
    if let Some(cluster) = &cluster {
        services = services
            .with_session_table(cluster.session_table())
            .with_sm_registry(cluster.sm_registry());
    }
    let c2s = crate::c2s::serve(settings, services).await?;
    if let Some(cluster) = &cluster {
        cluster.attach(c2s.router());
    }
    *live.router.write() = Some(Arc::clone(c2s.router()));
    *live.c2s_addrs.write() = c2s.local_addrs().to_vec();
    *live.c2s_supervisor.write() = Some(c2s.supervisor().clone());
    Ok(C2sPart(c2s, Arc::clone(live)))
}

impl Part for C2sPart {
    fn watched(&self) -> Option<ActorCell> {
        Some(self.0.supervisor().cell())
    }

    async fn stop(self) {
        self.1.c2s_addrs.write().clear();
        *self.1.c2s_supervisor.write() = None;
        self.0.shutdown().await;
    }
}

/// The router the c2s part published; an error when it is not running (a part started out of
/// order, which the tree's order rules out).
fn running_router(live: &Live) -> anyhow::Result<Arc<Router>> {
    live.router()
        .ok_or_else(|| anyhow::anyhow!("the c2s part is not running"))
}

/// The admin GraphQL API (or nothing, when it is disabled).
struct AdminPart(Option<AdminApiHandle>, Arc<Live>);

async fn start_admin(inputs: Arc<Inputs>) -> anyhow::Result<AdminPart> {
    let live = &inputs.live;
    let mut context = crate::api::admin::AdminContext::new(
        &inputs.config,
        inputs.storage.clone(),
        running_router(live)?,
    );
    context.started_at = live.started_at;
    context.stop = live.stop.clone();
    context.processes = Some(Processes::new(live));
    if let Some(cluster) = live.cluster() {
        context = context.with_cluster(cluster);
    }
    let handle = crate::api::admin::start_from_config(&inputs.config, context).await?;
    *live.admin_addr.write() = handle.as_ref().map(AdminApiHandle::local_addr);
    Ok(AdminPart(handle, Arc::clone(live)))
}

impl Part for AdminPart {
    async fn stop(self) {
        *self.1.admin_addr.write() = None;
        if let Some(handle) = self.0 {
            handle.shutdown().await;
        }
    }
}

/// The user GraphQL API (or nothing, when it is disabled).
struct UserPart(Option<UserApiHandle>, Arc<Live>);

async fn start_user(inputs: Arc<Inputs>) -> anyhow::Result<UserPart> {
    let live = &inputs.live;
    let context = crate::api::user::UserContext::new(
        &inputs.config,
        inputs.storage.clone(),
        running_router(live)?,
    );
    let handle = crate::api::user::start_from_config(&inputs.config, context).await?;
    *live.user_addr.write() = handle.as_ref().map(UserApiHandle::local_addr);
    Ok(UserPart(handle, Arc::clone(live)))
}

impl Part for UserPart {
    async fn stop(self) {
        *self.1.user_addr.write() = None;
        if let Some(handle) = self.0 {
            handle.shutdown().await;
        }
    }
}

/// How often readiness is recomputed in a cluster.
const READINESS_INTERVAL: Duration = Duration::from_millis(500);

/// The task that keeps readiness true while the node can take clients.
struct ReadinessPart(tokio::task::JoinHandle<()>, Arc<Live>);

async fn start_readiness(inputs: Arc<Inputs>) -> anyhow::Result<ReadinessPart> {
    let live = Arc::clone(&inputs.live);
    let task = tokio::spawn(track_readiness(Arc::clone(&live)));
    Ok(ReadinessPart(task, live))
}

impl Part for ReadinessPart {
    async fn stop(self) {
        self.0.abort();
        self.1.ready.send_replace(false);
    }
}

/// Keeps `ready` true while the node can take clients: at once when it runs alone; in a
/// cluster, while every table has joined every node discovered.
async fn track_readiness(live: Arc<Live>) {
    loop {
        let now_ready = match live.cluster() {
            None => true,
            Some(cluster) => cluster.status().await.ready,
        };
        if live.ready.send_replace(now_ready) != now_ready {
            tracing::info!(ready = now_ready, "readiness changed");
        }
        tokio::time::sleep(READINESS_INTERVAL).await;
    }
}

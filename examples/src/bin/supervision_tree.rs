//! A three-level supervision tree under scheduled fault injection.
//!
//! ```text
//! root (one_for_one, 5 restarts / 10 s)
//! ├── metrics                     worker
//! └── group (rest_for_one, 1 restart / 5 s)
//!     ├── db                      worker
//!     ├── cache                   worker
//!     └── connections             dynamic supervisor of per-connection workers (transient)
//! ```
//!
//! It prints the tree, then on a schedule kills a connection (restarted alone), makes the
//! cache crash (rest_for_one restarts cache and connections), kills the db inside the
//! group's intensity window (the group gives up and the root restarts it: an escalation),
//! runs a short chaos round, and finally stops the whole tree in order. Every exit, restart
//! and escalation is printed as it happens. It exits 0 by itself in about five seconds.

use std::time::{Duration, Instant};

use bream_runtime::application::Application;
use bream_runtime::fault;
use bream_runtime::ractor::{Actor, ActorProcessingErr, ActorRef};
use bream_runtime::registry;
use bream_runtime::supervisor::{
    ChildKind, ChildSpec, ChildTemplate, DynamicSupervisor, DynamicSupervisorSpec, Restart,
    Strategy, SupervisorEvent, SupervisorRef, SupervisorSpec,
};
use bream_runtime::testkit::{chaos, tree, wait_for_event};
use tokio::sync::{broadcast, watch};

/// A worker that does nothing but exist; its messages are never sent.
struct Worker;

enum WorkerMsg {}

bream_runtime::local_message!(WorkerMsg);

impl Actor for Worker {
    type Msg = WorkerMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<WorkerMsg>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
}

/// A per-connection worker, started with its connection number.
struct Connection;

impl Actor for Connection {
    type Msg = WorkerMsg;
    type State = u32;
    type Arguments = u32;

    async fn pre_start(
        &self,
        _: ActorRef<WorkerMsg>,
        number: u32,
    ) -> Result<u32, ActorProcessingErr> {
        Ok(number)
    }
}

fn worker(id: &str) -> ChildSpec {
    ChildSpec::actor(id, || Worker, || ())
}

/// Prints each event as it arrives; when `done` fires, prints what is left and returns.
fn print_events(
    mut events: broadcast::Receiver<SupervisorEvent>,
    started: Instant,
    mut done: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Ok(event) => print_event(&event, started),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = done.changed() => {
                    while let Ok(event) = events.try_recv() {
                        print_event(&event, started);
                    }
                    return;
                }
            }
        }
    })
}

fn print_event(event: &SupervisorEvent, started: Instant) {
    let at = started.elapsed().as_secs_f32();
    let line = match event {
        SupervisorEvent::ChildStarted {
            supervisor, child, ..
        } => {
            format!("{supervisor}: started {child}")
        }
        SupervisorEvent::ChildExited {
            supervisor,
            child,
            reason,
            ..
        } => {
            format!("{supervisor}: {child} exited ({reason})")
        }
        SupervisorEvent::ChildTerminated {
            supervisor, child, ..
        } => {
            format!("{supervisor}: stopped {child}")
        }
        SupervisorEvent::ChildRestarted {
            supervisor, child, ..
        } => {
            format!("{supervisor}: RESTARTED {child}")
        }
        SupervisorEvent::ChildStartFailed {
            supervisor,
            child,
            error,
        } => {
            format!("{supervisor}: {child} failed to start: {error}")
        }
        SupervisorEvent::IntensityReached {
            supervisor,
            restarts_max,
            period,
        } => format!(
            "{supervisor}: ESCALATION, more than {restarts_max} restarts in {period:?}; giving up"
        ),
        SupervisorEvent::SupervisorStopped { supervisor, reason } => {
            format!("{supervisor}: stopped ({reason})")
        }
    };
    println!("[{at:5.2}s] {line}");
}

async fn print_tree(root: &SupervisorRef) {
    println!("tree:");
    println!("  root");
    for entry in tree(root).await {
        let kind = match entry.child.kind {
            ChildKind::Worker => "worker",
            ChildKind::Supervisor => "supervisor",
        };
        let actor = entry
            .child
            .actor
            .map(|actor| actor.get_id().to_string())
            .unwrap_or_else(|| "not running".into());
        println!(
            "  {}{} ({kind}, {actor})",
            "  ".repeat(entry.depth),
            entry.child.id
        );
    }
}

async fn connections() -> anyhow::Result<DynamicSupervisor<u32>> {
    let cell = registry::whereis("connections")
        .ok_or_else(|| anyhow::anyhow!("no connections supervisor"))?;
    Ok(DynamicSupervisor::from_ref(
        SupervisorRef::from_cell(cell).await?,
    ))
}

fn child_of(name: &str) -> anyhow::Result<bream_runtime::ractor::ActorCell> {
    registry::whereis(name).ok_or_else(|| anyhow::anyhow!("{name} is not running"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    quiet_injected_panics();
    let started = Instant::now();
    let connections_spec = DynamicSupervisorSpec::new(
        "connections",
        ChildTemplate::actor(|number: u32| (Connection, number)).restart(Restart::Transient),
    )
    .max_children(100)
    .intensity(10, Duration::from_secs(5))
    .registered();
    let connection_events = connections_spec.subscribe();
    let mut connection_waits = connections_spec.subscribe();
    let group = SupervisorSpec::new("group")
        .strategy(Strategy::RestForOne)
        .intensity(1, Duration::from_secs(5))
        .child(named_worker("db"))
        .child(named_worker("cache"))
        .child(ChildSpec::supervisor(
            "connections",
            connections_spec.into_spec(),
        ));
    let root = SupervisorSpec::new("root")
        .intensity(5, Duration::from_secs(10))
        .child(worker("metrics"))
        .child(ChildSpec::supervisor("group", group.clone()));
    let (done, done_watch) = watch::channel(false);
    let printers = [
        print_events(root.subscribe(), started, done_watch.clone()),
        print_events(group.subscribe(), started, done_watch.clone()),
        print_events(connection_events, started, done_watch),
    ];
    let app = Application::start(root).await?;

    let mut root_events = app.root().subscribe();
    let mut group_events = group.subscribe();
    for number in 1..=5 {
        connections().await?.start_child(number).await?;
    }
    print_tree(app.root()).await;

    println!("-- kill one connection: only it is restarted (transient, abnormal exit)");
    let victim = connections()
        .await?
        .which_children()
        .await?
        .into_iter()
        .find_map(|child| child.actor)
        .ok_or_else(|| anyhow::anyhow!("no connection"))?;
    fault::kill(&victim)?;
    wait_for_event(&mut connection_waits, Duration::from_secs(5), |event| {
        matches!(event, SupervisorEvent::ChildRestarted { .. })
    })
    .await?;

    pause().await;
    println!("-- crash the cache: rest_for_one restarts cache and connections");
    fault::exit(
        &child_of("cache")?,
        bream_runtime::ExitReason::Error("injected crash".into()),
    )?;
    wait_for_event(&mut group_events, Duration::from_secs(5), |event| {
        matches!(event, SupervisorEvent::ChildRestarted { child, .. } if child == "connections")
    })
    .await?;

    pause().await;
    println!("-- kill db: the group's second restart within 5 s, so it gives up and the root restarts it");
    fault::kill(&child_of("db")?)?;
    wait_for_event(&mut group_events, Duration::from_secs(5), |event| {
        matches!(event, SupervisorEvent::IntensityReached { .. })
    })
    .await?;
    wait_for_event(
        &mut root_events,
        Duration::from_secs(5),
        |event| matches!(event, SupervisorEvent::ChildRestarted { child, .. } if child == "group"),
    )
    .await?;
    print_tree(app.root()).await;

    pause().await;
    println!("-- chaos: random worker kills for 2 s (seed 7)");
    for number in 1..=3 {
        connections().await?.start_child(number).await?;
    }
    let report = chaos(
        app.root(),
        Duration::from_secs(2),
        Duration::from_millis(400),
        7,
    )
    .await;
    println!("chaos report: {report:?}");
    print_tree(app.root()).await;

    pause().await;
    println!("-- stopping the application: children in reverse start order");
    app.stop().await;
    // Every event of the shutdown has been sent by now; let the printers drain them.
    let _ = done.send(true);
    for printer in printers {
        printer.await?;
    }
    println!("done in {:.1}s", started.elapsed().as_secs_f32());
    Ok(())
}

/// Injected panics are expected here: print one line instead of a backtrace.
fn quiet_injected_panics() {
    std::panic::set_hook(Box::new(|info| println!("(panic: {info})")));
}

/// The schedule's beat, so a reader can follow the output.
async fn pause() {
    tokio::time::sleep(Duration::from_millis(700)).await;
}

/// A worker that registers itself under its id, so faults can find it by name.
fn named_worker(id: &'static str) -> ChildSpec {
    ChildSpec::actor(id, move || NamedWorker(id), || ())
}

struct NamedWorker(&'static str);

impl Actor for NamedWorker {
    type Msg = WorkerMsg;
    type State = ();
    type Arguments = ();

    async fn pre_start(
        &self,
        myself: ActorRef<WorkerMsg>,
        _: (),
    ) -> Result<(), ActorProcessingErr> {
        registry::register(self.0, &myself.get_cell())?;
        Ok(())
    }
}

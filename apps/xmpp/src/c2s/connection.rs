//! The connection task: the one owner of a client's socket. It reads bytes
//! into the stream parser and hands parsed events to the session, and it
//! writes what the session queues.
//!
//! Why one task for both directions rather than a reader and a writer: in
//! the middle of a stream STARTTLS replaces the whole socket, and a stream
//! restart replaces the parser, each at an exact point in the sequence of
//! writes (after `<proceed/>`, after `<success/>`). With one owner that
//! point is simply where the command sits in the outgoing queue: the task
//! writes what comes before it, then upgrades or resets, then reads on. Two
//! tasks would have to hand the socket halves back and forth for the
//! upgrade.
//!
//! The two bounds, and what happens at them:
//! - **Outgoing**: the session puts [`Outgoing`] commands in a bounded
//!   channel (`outgoing_queue_max`). The session never waits on it: when it
//!   is full, the client is not reading, and the session drops the
//!   connection (aborting this task) instead of buffering without end. Each
//!   write also has `write_timeout`.
//! - **Incoming**: each event handed to the session carries a permit of a
//!   semaphore, released when the session has handled it. The task parses an
//!   event only with a permit in hand: one permit before the resource is
//!   bound, so that nothing is parsed under a stream that a restart or
//!   STARTTLS is about to replace, and [`INCOMING_EVENTS_MAX`] after. Before
//!   parsing, the task carries out the commands already queued, which is
//!   how a restart queued while handling one event takes effect before the
//!   next is parsed. A session that falls behind thus stops the reading
//!   (TCP pushes back on the client), and the parser holds at most one
//!   unfinished stanza plus one read chunk.
//!
//! Other edges: after the peer closes, a read fails, the parser fails or the
//! idle timeout fires, the task tells the session once and then only writes
//! (the session's closing stream error) until [`Outgoing::Close`] or until
//! the session drops its end of the queue. A failed TLS handshake or write
//! tells the session the connection is gone and ends the task. Plaintext
//! received after `<starttls/>` is discarded with the old parser.
//!
//! [`INCOMING_EVENTS_MAX`]: super::settings::INCOMING_EVENTS_MAX

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::time::{sleep_until, timeout, Instant};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use super::settings::READ_CHUNK_BYTES;
use crate::xml::{Limits, ParseError, StreamEvent, StreamParser};

/// A command from the session, carried out in order.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// Write this XML.
    Xml(String),
    /// Start a new stream on the same connection (after SASL success).
    ResetParser,
    /// Run the TLS handshake, then start a fresh parser (after `<proceed/>`).
    StartTls,
    /// Flush, close the connection and end the task.
    Close,
}

/// Why the connection ended without the session asking.
#[derive(Debug)]
pub(crate) enum Disconnect {
    /// The peer closed the connection.
    PeerClosed,
    /// Reading or writing failed.
    Io(io::Error),
    /// A write did not complete within the write timeout.
    WriteTimeout,
    /// The TLS handshake failed or timed out.
    TlsHandshake(String),
}

impl std::fmt::Display for Disconnect {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Disconnect::PeerClosed => formatter.write_str("peer closed the connection"),
            Disconnect::Io(error) => write!(formatter, "I/O error: {error}"),
            Disconnect::WriteTimeout => formatter.write_str("write timed out"),
            Disconnect::TlsHandshake(reason) => write!(formatter, "TLS handshake failed: {reason}"),
        }
    }
}

/// What the task tells the session.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A parsed stream event.
    Event(StreamEvent),
    /// The parser failed; nothing more is read.
    ParseError(ParseError),
    /// The STARTTLS handshake completed.
    TlsEstablished,
    /// Nothing was read for the idle timeout; nothing more is read.
    IdleTimeout,
    /// The connection is gone.
    Disconnected(Disconnect),
}

/// Where inbound events go: the session actor (or a test's channel).
pub(crate) trait InboundSink: Send + 'static {
    /// Hands over `event` with the permit that paces parsing; `false` if the
    /// session is gone.
    fn send(&self, event: Inbound, permit: Option<OwnedSemaphorePermit>) -> bool;
}

/// What every connection of a listener shares.
#[derive(Clone)]
pub(crate) struct ConnectionConfig {
    pub(crate) limits: Limits,
    pub(crate) idle_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) tls_handshake_timeout: Duration,
    /// For STARTTLS and direct TLS; `None` when TLS is off.
    pub(crate) tls: Option<TlsAcceptor>,
    /// The connection is TLS from its first byte.
    pub(crate) direct_tls: bool,
}

enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Between taking the plain socket for a handshake and getting it back.
    Closed,
}

fn not_connected() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection closed")
}

impl Io {
    async fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        match self {
            Io::Plain(socket) => socket.read(buffer).await,
            Io::Tls(socket) => socket.read(buffer).await,
            Io::Closed => Err(not_connected()),
        }
    }

    async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Io::Plain(socket) => socket.write_all(data).await,
            Io::Tls(socket) => socket.write_all(data).await,
            Io::Closed => Err(not_connected()),
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        match self {
            Io::Plain(socket) => socket.flush().await,
            Io::Tls(socket) => socket.flush().await,
            Io::Closed => Ok(()),
        }
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Io::Plain(socket) => socket.shutdown().await,
            Io::Tls(socket) => socket.shutdown().await,
            Io::Closed => Ok(()),
        }
    }
}

#[derive(PartialEq, Eq)]
enum Step {
    Continue,
    Stop,
}

struct Connection<S> {
    io: Io,
    parser: StreamParser,
    outgoing: mpsc::Receiver<Outgoing>,
    permits: Arc<Semaphore>,
    sink: S,
    config: Arc<ConnectionConfig>,
    buffer: Vec<u8>,
    /// False once the session has been told that reading is over.
    reading: bool,
    idle_deadline: Instant,
}

/// Runs the connection until the session closes it or it breaks. See the
/// module docs.
pub(crate) async fn run<S: InboundSink>(
    socket: TcpStream,
    config: Arc<ConnectionConfig>,
    outgoing: mpsc::Receiver<Outgoing>,
    permits: Arc<Semaphore>,
    sink: S,
) {
    let mut connection = Connection {
        io: Io::Plain(socket),
        parser: StreamParser::with_limits(config.limits),
        outgoing,
        permits,
        sink,
        buffer: vec![0; READ_CHUNK_BYTES],
        reading: true,
        idle_deadline: Instant::now() + config.idle_timeout,
        config,
    };
    if connection.config.direct_tls && connection.upgrade().await.is_err() {
        return;
    }
    connection.serve().await;
    let write_timeout = connection.config.write_timeout;
    let _ = timeout(write_timeout, connection.io.shutdown()).await;
}

impl<S: InboundSink> Connection<S> {
    async fn serve(&mut self) {
        loop {
            if !self.reading {
                match self.outgoing.recv().await {
                    Some(command) => {
                        if self.command(command).await == Step::Stop {
                            return;
                        }
                    }
                    None => return,
                }
                continue;
            }
            let permit = tokio::select! {
                biased;
                command = self.outgoing.recv() => {
                    match command {
                        Some(command) => {
                            if self.command(command).await == Step::Stop {
                                return;
                            }
                        }
                        None => return,
                    }
                    continue;
                },
                permit = Arc::clone(&self.permits).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
            };
            // Commands queued before the permit was released come first: a
            // stream restart or STARTTLS changes how the next bytes parse.
            loop {
                match self.outgoing.try_recv() {
                    Ok(command) => {
                        if self.command(command).await == Step::Stop {
                            return;
                        }
                    }
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => return,
                }
            }
            if self.next_event(permit).await == Step::Stop {
                return;
            }
        }
    }

    /// Parses (reading as needed) until one event goes to the session with
    /// `permit`, serving commands while it waits for bytes.
    async fn next_event(&mut self, permit: OwnedSemaphorePermit) -> Step {
        loop {
            if !self.reading {
                return Step::Continue;
            }
            match self.parser.next_event() {
                Ok(Some(event)) => return self.hand_over(Inbound::Event(event), Some(permit)),
                Err(error) => {
                    self.reading = false;
                    return self.hand_over(Inbound::ParseError(error), Some(permit));
                }
                Ok(None) => {}
            }
            tokio::select! {
                biased;
                command = self.outgoing.recv() => match command {
                    Some(command) => {
                        if self.command(command).await == Step::Stop {
                            return Step::Stop;
                        }
                    }
                    None => return Step::Stop,
                },
                read = self.io.read(&mut self.buffer) => match read {
                    Ok(0) => {
                        self.reading = false;
                        return self.hand_over(Inbound::Disconnected(Disconnect::PeerClosed), Some(permit));
                    }
                    Ok(count) => {
                        self.idle_deadline = Instant::now() + self.config.idle_timeout;
                        let bytes = self.buffer.get(..count).unwrap_or_default();
                        self.parser.feed(bytes);
                    }
                    Err(error) => {
                        self.reading = false;
                        return self.hand_over(Inbound::Disconnected(Disconnect::Io(error)), Some(permit));
                    }
                },
                () = sleep_until(self.idle_deadline) => {
                    self.reading = false;
                    return self.hand_over(Inbound::IdleTimeout, Some(permit));
                }
            }
        }
    }

    fn hand_over(&mut self, event: Inbound, permit: Option<OwnedSemaphorePermit>) -> Step {
        if self.sink.send(event, permit) {
            Step::Continue
        } else {
            Step::Stop
        }
    }

    async fn command(&mut self, command: Outgoing) -> Step {
        match command {
            Outgoing::Xml(xml) => {
                if let Err(disconnect) = self.write(xml.as_bytes()).await {
                    return self.broken(disconnect);
                }
                if self.outgoing.is_empty() {
                    if let Err(disconnect) = self.flush().await {
                        return self.broken(disconnect);
                    }
                }
                Step::Continue
            }
            Outgoing::ResetParser => {
                self.parser.reset();
                Step::Continue
            }
            Outgoing::StartTls => {
                if let Err(disconnect) = self.flush().await {
                    return self.broken(disconnect);
                }
                match self.upgrade().await {
                    Ok(()) => self.hand_over(Inbound::TlsEstablished, None),
                    Err(()) => Step::Stop,
                }
            }
            Outgoing::Close => {
                let _ = self.flush().await;
                Step::Stop
            }
        }
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), Disconnect> {
        match timeout(self.config.write_timeout, self.io.write_all(data)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(Disconnect::Io(error)),
            Err(_) => Err(Disconnect::WriteTimeout),
        }
    }

    async fn flush(&mut self) -> Result<(), Disconnect> {
        match timeout(self.config.write_timeout, self.io.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(Disconnect::Io(error)),
            Err(_) => Err(Disconnect::WriteTimeout),
        }
    }

    fn broken(&mut self, disconnect: Disconnect) -> Step {
        self.reading = false;
        self.io = Io::Closed;
        let _ = self.sink.send(Inbound::Disconnected(disconnect), None);
        Step::Stop
    }

    /// Runs the TLS handshake on the plain socket and starts a fresh parser;
    /// on failure tells the session and returns `Err`.
    async fn upgrade(&mut self) -> Result<(), ()> {
        let Io::Plain(socket) = std::mem::replace(&mut self.io, Io::Closed) else {
            self.broken(Disconnect::TlsHandshake("not a plain connection".into()));
            return Err(());
        };
        let Some(acceptor) = self.config.tls.clone() else {
            self.broken(Disconnect::TlsHandshake("TLS is not configured".into()));
            return Err(());
        };
        match timeout(self.config.tls_handshake_timeout, acceptor.accept(socket)).await {
            Ok(Ok(tls)) => {
                self.io = Io::Tls(Box::new(tls));
                self.parser = StreamParser::with_limits(self.config.limits);
                self.idle_deadline = Instant::now() + self.config.idle_timeout;
                Ok(())
            }
            Ok(Err(error)) => {
                self.broken(Disconnect::TlsHandshake(error.to_string()));
                Err(())
            }
            Err(_) => {
                self.broken(Disconnect::TlsHandshake(format!(
                    "no handshake within {:?}",
                    self.config.tls_handshake_timeout
                )));
                Err(())
            }
        }
    }
}

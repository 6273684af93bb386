//! The session's side of mirroring its stream management state to another node
//! (`buffer_replicas = 1`): the [`SmMirror`] trait a session calls after each input, and the
//! [`MirrorCursor`] it keeps, which says what the mirror has already seen.
//!
//! Why a trait: the session actor never knows the cluster. A cluster's
//! [`SmRegistry`](super::SmRegistry) offers a mirror (`crate::cluster::sm_mirror` sends to
//! the chosen node through its relay); one node offers none, and the session does nothing.
//!
//! The cursor is plain data, one per session: the mirror node it last sent to and the three
//! counters as that node has them. After an input, whatever the stream changed (stanzas kept,
//! acknowledgements, stanzas handled) is the difference between the stream's counters and
//! the cursor's, so the stream machine needs no hook of its own.

use super::sm::{SmId, SmState};
use crate::jid::Jid;
use crate::router::SessionId;

/// What a mirror has seen of one session. `Default` is "nothing, no mirror chosen".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MirrorCursor {
    /// The node the mirror lives on, once a full copy was sent there.
    pub target: Option<String>,
    /// `sent_out` as the mirror has it.
    pub sent_out: u32,
    /// `acked_out` as the mirror has it.
    pub acked_out: u32,
    /// `handled_in` as the mirror has it.
    pub handled_in: u32,
}

/// One session as the mirror needs to see it.
#[derive(Clone, Copy, Debug)]
pub struct MirrorView<'a> {
    /// Its stream management id.
    pub id: &'a SmId,
    /// Its full JID.
    pub jid: &'a Jid,
    /// Its session id.
    pub sid: SessionId,
    /// Its stream management state.
    pub sm: &'a SmState,
}

/// Where a session's state is mirrored. See the [module documentation](self).
pub trait SmMirror: Send + Sync + 'static {
    /// The session's state may have changed: send the mirror what it lacks. Never waits
    /// (a cast over the node link); a failed send clears `cursor.target`, so the next call
    /// sends a full copy.
    fn sync(&self, session: &MirrorView<'_>, cursor: &mut MirrorCursor);
    /// The session ended for real or was handed over: the mirror forgets it.
    fn forget(&self, id: &SmId, cursor: &mut MirrorCursor);
}

//! Batching what a server sends to its peers.
//!
//! Without it every write costs one network message per peer, and every
//! acknowledgement one more back: with 64 writers on 3 nodes the origin
//! handles four remote messages per write, and ractor_cluster moves about
//! 250 k messages a second per session on this kind of machine, so the
//! message count, not the bytes, caps throughput. The server therefore puts
//! what the protocol sends into an [`Outbox`] and sends it when its mailbox
//! has caught up: the first message queued sends the server a flush marker,
//! and since the mailbox is FIFO, the marker arrives after every request
//! that was already waiting, whose messages join the same batch. One
//! writer alone pays one local mailbox hop (about a microsecond); many
//! writers share frames.
//!
//! # Rules
//!
//! - Messages to one peer leave in the order the protocol made them, so the
//!   protocol's per-origin order (FIFO per pair of nodes) holds; a batch is
//!   applied by the receiver message by message, in order, so the ack
//!   semantics are the protocol's own.
//! - A batch weighs at most [`PEER_BATCH_RECORDS_MAX`] records (a message
//!   weighs the records it carries, at least 1); a heavier message goes
//!   alone, so batching never makes a frame much larger than the largest
//!   single message (join dumps are chunked by the protocol already).
//! - Consecutive acks to one peer leave as one, the last: acks are
//!   cumulative ([`PeerMsg::Ack`]), so with 64 writers the origin receives
//!   one ack per batch per peer instead of one per write.
//! - The messages queued for a peer that goes down are discarded
//!   ([`Outbox::forget`]): they were meant for a session that no longer
//!   exists, and the protocol has already counted the peer as gone.

use std::collections::HashMap;

use super::protocol::{NodeName, Op, PeerMsg};

/// Default bound on the records one batch to a peer carries. Small records
/// (a session table's are under 100 bytes) keep a full batch near 100 KiB,
/// far from ractor_cluster's 16 MiB frame limit.
pub const PEER_BATCH_RECORDS_MAX: usize = 1024;

const _: () = assert!(PEER_BATCH_RECORDS_MAX > 0);

/// Messages waiting to go to each peer, in order.
pub(crate) struct Outbox<K, V> {
    queued: HashMap<NodeName, Vec<PeerMsg<K, V>>>,
    batch_records_max: usize,
}

impl<K, V> Outbox<K, V> {
    /// An empty outbox whose batches weigh at most `batch_records_max` records.
    pub(crate) fn new(batch_records_max: usize) -> Self {
        Outbox {
            queued: HashMap::new(),
            batch_records_max: batch_records_max.max(1),
        }
    }

    /// Queues `message` for `to`; returns whether the outbox was empty
    /// before (then the caller schedules a flush). An ack that follows an
    /// ack to the same peer replaces it (acks are cumulative), so a batch of
    /// writes received costs one ack back.
    pub(crate) fn push(&mut self, to: NodeName, message: PeerMsg<K, V>) -> bool {
        let was_empty = self.queued.is_empty();
        let queue = match self.queued.get_mut(&to) {
            Some(queue) => queue,
            None => self.queued.entry(to).or_default(),
        };
        if let (PeerMsg::Ack { write_id }, Some(PeerMsg::Ack { write_id: last })) =
            (&message, queue.last_mut())
        {
            *last = (*last).max(*write_id);
            return was_empty;
        }
        queue.push(message);
        was_empty
    }

    /// Discards what waits for `node`.
    pub(crate) fn forget(&mut self, node: &str) {
        self.queued.remove(node);
    }

    /// Whether nothing waits.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Takes everything, as batches per peer, each peer's in order.
    pub(crate) fn take(&mut self) -> Vec<(NodeName, Vec<PeerMsg<K, V>>)> {
        let mut batches = Vec::new();
        for (to, messages) in self.queued.drain() {
            let mut batch = Vec::new();
            let mut weight = 0;
            for message in messages {
                let message_weight = weight_of(&message);
                if !batch.is_empty() && weight + message_weight > self.batch_records_max {
                    batches.push((to.clone(), std::mem::take(&mut batch)));
                    weight = 0;
                }
                weight += message_weight;
                batch.push(message);
            }
            if !batch.is_empty() {
                batches.push((to, batch));
            }
        }
        batches
    }
}

/// The records a message carries, at least 1.
fn weight_of<K, V>(message: &PeerMsg<K, V>) -> usize {
    let records = match message {
        PeerMsg::Write { op, .. } => match op {
            Op::Insert(records) | Op::DeleteObject(records) => records.len(),
            Op::Delete(keys) => keys.len(),
        },
        PeerMsg::JoinDump { records, .. } | PeerMsg::JoinRecords { records, .. } => records.len(),
        _ => 1,
    };
    records.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(id: u64, records: usize) -> PeerMsg<u64, u64> {
        PeerMsg::Write {
            join_ref: 1,
            write_id: id,
            op: Op::Insert((0..records as u64).map(|key| (key, id)).collect()),
        }
    }

    fn ids(batch: &[PeerMsg<u64, u64>]) -> Vec<u64> {
        batch
            .iter()
            .map(|message| match message {
                PeerMsg::Write { write_id, .. } | PeerMsg::Ack { write_id } => *write_id,
                _ => 0,
            })
            .collect()
    }

    #[test]
    fn messages_to_one_peer_stay_in_order_and_share_a_batch() {
        let mut outbox = Outbox::new(PEER_BATCH_RECORDS_MAX);
        assert!(outbox.push("b".into(), write(1, 1)));
        assert!(!outbox.push("c".into(), write(1, 1)));
        assert!(!outbox.push("b".into(), PeerMsg::Ack { write_id: 7 }));
        assert!(!outbox.push("b".into(), write(2, 1)));
        let mut batches = outbox.take();
        batches.sort_by(|left, right| left.0.cmp(&right.0));
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].0, "b");
        assert_eq!(ids(&batches[0].1), vec![1, 7, 2]);
        assert_eq!(ids(&batches[1].1), vec![1]);
        assert!(outbox.is_empty());
    }

    #[test]
    fn batches_split_at_the_record_bound_and_a_heavy_message_goes_alone() {
        let mut outbox = Outbox::new(4);
        for (id, records) in [(1, 2), (2, 2), (3, 1), (4, 9), (5, 1)] {
            outbox.push("b".into(), write(id, records));
        }
        let batches: Vec<Vec<u64>> = outbox
            .take()
            .into_iter()
            .map(|(_, batch)| ids(&batch))
            .collect();
        assert_eq!(batches, vec![vec![1, 2], vec![3], vec![4], vec![5]]);
    }

    #[test]
    fn a_bound_of_zero_still_sends_one_message_per_batch() {
        let mut outbox = Outbox::new(0);
        outbox.push("b".into(), write(1, 1));
        outbox.push("b".into(), write(2, 1));
        assert_eq!(outbox.take().len(), 2);
    }

    #[test]
    fn consecutive_acks_to_a_peer_leave_as_the_last_one() {
        let mut outbox = Outbox::new(PEER_BATCH_RECORDS_MAX);
        outbox.push("b".into(), PeerMsg::Ack { write_id: 3 });
        outbox.push("b".into(), PeerMsg::Ack { write_id: 4 });
        outbox.push("c".into(), PeerMsg::Ack { write_id: 9 });
        outbox.push("b".into(), write(5, 1));
        outbox.push("b".into(), PeerMsg::Ack { write_id: 6 });
        outbox.push("b".into(), PeerMsg::Ack { write_id: 8 });
        let mut batches = outbox.take();
        batches.sort_by(|left, right| left.0.cmp(&right.0));
        // An ack never jumps a write: order with other messages holds.
        assert_eq!(ids(&batches[0].1), vec![4, 5, 8]);
        assert_eq!(ids(&batches[1].1), vec![9]);
    }

    #[test]
    fn a_forgotten_peer_gets_nothing() {
        let mut outbox = Outbox::new(PEER_BATCH_RECORDS_MAX);
        outbox.push("b".into(), write(1, 1));
        outbox.push("c".into(), write(1, 1));
        outbox.forget("b");
        let batches = outbox.take();
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].0, "c");
    }
}

//! Message passing between threads with `std::sync::mpsc`: four threads in a ring, each
//! sending `String`s to the next. Every message is made on one thread and dropped on
//! another, so the allocator sees frees of blocks that another thread allocated.

use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::thread;

use crate::rng::{Rng, fnv};

/// Threads in the ring.
pub const THREADS: usize = 4;

/// A message: its text and the hops it has still to make. Each of the `THREADS` hops
/// replaces the text with a new `String` (allocated on the receiving thread) and drops
/// the old one (allocated on the sending thread).
struct Message {
    hops_left: usize,
    text: String,
}

/// What a thread does to a message it receives: a new, slightly longer `String`; the
/// old one is dropped here, on another thread than the one that made it.
fn hop(thread: usize, message: Message) -> Message {
    let mut text = String::with_capacity(message.text.len() + 8);
    text.push_str(&message.text);
    text.push_str(&format!("|t{thread}"));
    Message {
        hops_left: message.hops_left - 1,
        text,
    }
}

/// One thread of the ring: sends `own` messages of its own (forwarding what arrives in
/// between), then forwards until every message has passed through it. Each message goes
/// once round the ring and ends where it started, so a thread receives exactly
/// `THREADS * own` messages. Returns a checksum of the messages that ended here.
fn member(index: usize, own: usize, inbox: Receiver<Message>, next: Sender<Message>) -> u64 {
    let mut rng = Rng::new(0x5EED_0100 + index as u64);
    let mut received = 0;
    let mut sum = 0u64;
    let handle = |message: Message, sum: &mut u64| {
        let message = hop(index, message);
        if message.hops_left == 0 {
            *sum = sum.wrapping_add(fnv(message.text.as_bytes()));
        } else {
            next.send(message)
                .expect("the next thread outlives its messages");
        }
    };
    for k in 0..own {
        let len = rng.range(8, 200) as usize;
        let mut text = format!("m{index}.{k}:");
        while text.len() < len {
            text.push(char::from(b'a' + rng.below(26) as u8));
        }
        next.send(Message {
            hops_left: THREADS,
            text,
        })
        .expect("the next thread outlives its messages");
        loop {
            match inbox.try_recv() {
                Ok(message) => {
                    received += 1;
                    handle(message, &mut sum);
                }
                // Disconnected: the previous thread has seen every message and ended
                // (it may, once it forwarded the last one meant for us); what is left
                // in the queue comes out in the loop below.
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
    }
    while received < THREADS * own {
        let message = inbox
            .recv()
            .expect("the previous thread sends every message");
        received += 1;
        handle(message, &mut sum);
    }
    sum
}

/// Runs the ring with `per_thread` messages made by each thread; returns the sum of the
/// threads' checksums (the same whatever order the messages arrive in).
pub fn run(per_thread: usize) -> u64 {
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..THREADS).map(|_| channel()).unzip();
    let mut receivers: Vec<Option<Receiver<Message>>> = receivers.into_iter().map(Some).collect();
    let workers: Vec<_> = (0..THREADS)
        .map(|i| {
            let inbox = receivers[i].take().expect("each inbox is taken once");
            let next = senders[(i + 1) % THREADS].clone();
            thread::spawn(move || member(i, per_thread, inbox, next))
        })
        .collect();
    drop(senders);
    workers
        .into_iter()
        .map(|w| w.join().expect("a ring thread panicked"))
        .fold(0, u64::wrapping_add)
}

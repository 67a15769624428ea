//! Downloads that run ahead of the render: the originals a build's jobs
//! read and the cache of originals lacks, downloaded in the order the
//! workers take the jobs, several at once, while the workers render those
//! already here. At most [`WINDOW`] are held ahead of the workers, so that
//! a stopped run does not go on downloading a catalogue, and downloads end
//! when the workers do ([`Ahead::stopper`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use futures::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::model::Fetched;

/// Originals downloaded and not yet taken by a worker, at most. It must
/// exceed the worker threads, which each hold one slot while they render.
const WINDOW: usize = 64;

/// A source's download.
#[derive(Default)]
struct Slot {
    state: Mutex<State>,
    ready: Condvar,
}

#[derive(Default)]
enum State {
    #[default]
    Waiting,
    /// Its result, with the place in the window it holds until taken.
    Arrived(Result<Fetched, String>, OwnedSemaphorePermit),
    /// The run stopped before it was asked for: the worker asks itself.
    NotAsked,
    /// Taken, or its job is done without it: a late arrival frees its
    /// place at once.
    Gone,
}

/// The downloads ahead of one run's workers (see [`super::Store::ahead`]).
pub(crate) struct Ahead {
    order: Mutex<Vec<PathBuf>>,
    slots: HashMap<PathBuf, Arc<Slot>>,
    window: Arc<Semaphore>,
}

impl Ahead {
    pub(super) fn new(order: Vec<PathBuf>) -> Ahead {
        let slots = order
            .iter()
            .map(|rel| (rel.clone(), Arc::default()))
            .collect();
        Ahead {
            order: Mutex::new(order),
            slots,
            window: Arc::new(Semaphore::new(WINDOW)),
        }
    }

    /// Download every source in order with `download`, `in_flight` at
    /// once, until all are or its [`Ahead::stopper`] is dropped. Blocks: run it
    /// beside the workers.
    pub(super) async fn run<F, Fut>(&self, in_flight: usize, download: F)
    where
        F: Fn(PathBuf) -> Fut,
        Fut: std::future::Future<Output = Result<Fetched, String>>,
    {
        let order = std::mem::take(&mut *self.order.lock().unwrap());
        futures::stream::iter(order)
            .for_each_concurrent(in_flight, |rel| {
                let window = self.window.clone();
                let download = &download;
                async move {
                    let arrived = match window.acquire_owned().await {
                        Ok(place) => State::Arrived(download(rel.clone()).await, place),
                        Err(_) => State::NotAsked,
                    };
                    let slot = &self.slots[&rel];
                    let mut state = slot.state.lock().unwrap();
                    if matches!(*state, State::Waiting) {
                        *state = arrived;
                    }
                    slot.ready.notify_all();
                }
            })
            .await;
    }

    /// The download of `rel`, waiting for it: `None` if it is not one of
    /// these, or the run stopped before asking for it. Taking it frees its
    /// place in the window.
    pub(super) fn take(&self, rel: &Path) -> Option<Result<Fetched, String>> {
        let slot = self.slots.get(rel)?;
        let mut state = slot.state.lock().unwrap();
        loop {
            match std::mem::replace(&mut *state, State::Gone) {
                State::Arrived(result, _place) => return Some(result),
                State::NotAsked | State::Gone => return None,
                State::Waiting => {
                    *state = State::Waiting;
                    state = slot.ready.wait(state).unwrap();
                }
            }
        }
    }

    /// `rel`'s job is done: its download, if it was not taken (the job
    /// read nothing), frees its place.
    pub(crate) fn done(&self, rel: &Path) {
        if let Some(slot) = self.slots.get(rel) {
            *slot.state.lock().unwrap() = State::Gone;
        }
    }

    /// Ask for nothing more once the returned guard is dropped; downloads
    /// in flight finish.
    pub(crate) fn stopper(&self) -> Stopper<'_> {
        Stopper(self)
    }
}

/// Stops an [`Ahead`]'s downloads when dropped.
pub(crate) struct Stopper<'a>(&'a Ahead);

impl Drop for Stopper<'_> {
    fn drop(&mut self) {
        self.0.window.close();
    }
}

//! Client configuration: how long state lives in the store.

use std::time::Duration;

use crate::model::Kind;

/// How long signatures live in the store: the active TTL is set when a signature is created, the done TTL when it
/// finishes (or will never run). Per-kind values override the general ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TtlConfig {
    /// TTL of a signature from its creation: 24 hours by default.
    pub active: Duration,
    /// TTL of a signature once it finished: 3 hours by default.
    pub done: Duration,
    /// Overrides for task signatures.
    pub task: KindTtl,
    /// Overrides for chains.
    pub chain: KindTtl,
    /// Overrides for swarms.
    pub swarm: KindTtl,
}

/// TTL overrides for one kind of signature.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KindTtl {
    /// The active TTL of this kind, if it differs from the general one.
    pub active: Option<Duration>,
    /// The done TTL of this kind, if it differs from the general one.
    pub done: Option<Duration>,
}

impl Default for TtlConfig {
    fn default() -> Self {
        TtlConfig {
            active: Duration::from_secs(24 * 3600),
            done: Duration::from_secs(3 * 3600),
            task: KindTtl::default(),
            chain: KindTtl::default(),
            swarm: KindTtl::default(),
        }
    }
}

impl TtlConfig {
    /// The general TTLs.
    pub fn new(active: Duration, done: Duration) -> Self {
        TtlConfig { active, done, ..Default::default() }
    }

    /// Sets the TTLs of one kind.
    pub fn with_kind(mut self, kind: Kind, active: Option<Duration>, done: Option<Duration>) -> Self {
        let overrides = KindTtl { active, done };
        match kind {
            Kind::Task => self.task = overrides,
            Kind::Chain => self.chain = overrides,
            Kind::Swarm => self.swarm = overrides,
        }
        self
    }

    /// The (active, done) TTLs of a kind.
    pub fn of(&self, kind: Kind) -> (Duration, Duration) {
        let overrides = match kind {
            Kind::Task => &self.task,
            Kind::Chain => &self.chain,
            Kind::Swarm => &self.swarm,
        };
        (overrides.active.unwrap_or(self.active), overrides.done.unwrap_or(self.done))
    }

    /// Checks that every TTL is at least one second (Redis TTLs are whole seconds).
    pub(crate) fn validate(&self) -> Result<(), crate::Error> {
        for kind in [Kind::Task, Kind::Chain, Kind::Swarm] {
            let (active, done) = self.of(kind);
            if active < Duration::from_secs(1) || done < Duration::from_secs(1) {
                return Err(crate::Error::Config(format!(
                    "the TTLs of {} signatures must be at least one second (got active {active:?}, done {done:?})",
                    kind.as_str()
                )));
            }
        }
        Ok(())
    }

    /// The largest active and done TTLs over the kinds, in seconds: a group of signatures lives by them.
    pub(crate) fn largest(&self) -> (u64, u64) {
        [Kind::Task, Kind::Chain, Kind::Swarm]
            .map(|kind| self.of(kind))
            .iter()
            .fold((1, 1), |(active, done), (a, d)| (active.max(a.as_secs()), done.max(d.as_secs())))
    }
}

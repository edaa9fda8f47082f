//! Readiness (`GET /readyz`): why it exists — a load balancer or orchestrator must stop sending
//! new clients to a node that cannot serve them (its store is down, it is shutting down), while
//! liveness (`/healthz`) must not get a merely degraded process restarted.
//!
//! [`Readiness`] is a list of named asynchronous checks; `App::new` adds `store`
//! (`Store::ping`), and other parts (the cluster's Redis connection) add their own with
//! [`Readiness::add`]. Draining is not a check: `/readyz` asks `App::drain` first.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How long one check may take before it counts as failed: a hung database must not hang
/// the probe (load balancers time out at a few seconds).
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// What a check returns: `Err` with a short reason when the part is not ready.
pub type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

type Check = Arc<dyn Fn() -> CheckFuture + Send + Sync>;

/// The named checks; see the module docs.
#[derive(Default)]
pub struct Readiness {
    checks: RwLock<Vec<(&'static str, Check)>>,
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The check's name (`store`, `redis`, …).
    pub name: &'static str,
    /// `Err(reason)` when not ready.
    pub result: Result<(), String>,
}

impl Readiness {
    /// Adds a check named `name`; `check` is called on every probe and must answer within
    /// [`CHECK_TIMEOUT`]. Example, for a Redis relay:
    /// `app.readiness.add("redis", move || { let r = relay.clone(); Box::pin(async move {
    /// r.connected().then_some(()).ok_or_else(|| "not connected".to_owned()) }) })`.
    pub fn add(&self, name: &'static str, check: impl Fn() -> CheckFuture + Send + Sync + 'static) {
        self.checks
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push((name, Arc::new(check)));
    }

    /// Runs every check (concurrently, each bounded by [`CHECK_TIMEOUT`]), in the order added.
    pub async fn run(&self) -> Vec<Outcome> {
        let checks = self
            .checks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let running: Vec<_> = checks
            .into_iter()
            .map(|(name, check)| {
                let probe = check();
                let task = tokio::spawn(async move {
                    match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
                        Ok(result) => result,
                        Err(_) => Err(format!("no answer within {CHECK_TIMEOUT:?}")),
                    }
                });
                (name, task)
            })
            .collect();
        let mut outcomes = Vec::with_capacity(running.len());
        for (name, task) in running {
            let result = task
                .await
                .unwrap_or_else(|e| Err(format!("check failed: {e}")));
            outcomes.push(Outcome { name, result });
        }
        outcomes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn checks_run_in_order_and_a_hung_one_times_out() {
        let readiness = Readiness::default();
        readiness.add("a", || Box::pin(async { Ok(()) }));
        readiness.add("b", || Box::pin(async { Err("down".to_owned()) }));
        readiness.add("c", || Box::pin(std::future::pending()));
        let outcomes = readiness.run().await;
        let names: Vec<_> = outcomes.iter().map(|o| o.name).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(outcomes[0].result, Ok(()));
        assert_eq!(outcomes[1].result, Err("down".to_owned()));
        assert!(
            outcomes[2]
                .result
                .as_ref()
                .is_err_and(|e| e.contains("no answer"))
        );
    }
}

//! A progress line on stderr for long runs: rewritten in place on a terminal, one line every five
//! seconds otherwise (so CI logs stay short). Stdout stays clean for JSON lines.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Status = Arc<dyn Fn() -> String + Send + Sync>;

struct Shared {
    phase: String,
    status: Option<Status>,
    done: bool,
}

/// A running progress indicator; stops on [`Ticker::finish`] or drop.
pub struct Ticker {
    shared: Arc<Mutex<Shared>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Ticker {
    /// Starts printing `phase` and the status every tick, if `enabled`.
    pub fn start(enabled: bool, phase: &str) -> Ticker {
        let shared = Arc::new(Mutex::new(Shared {
            phase: phase.to_owned(),
            status: None,
            done: false,
        }));
        let task = enabled.then(|| {
            let shared = shared.clone();
            tokio::spawn(async move {
                let tty = std::io::stderr().is_terminal();
                let every = if tty {
                    Duration::from_millis(500)
                } else {
                    Duration::from_secs(5)
                };
                let started = Instant::now();
                loop {
                    tokio::time::sleep(every).await;
                    let line = {
                        let s = shared.lock().unwrap_or_else(|e| e.into_inner());
                        if s.done {
                            break;
                        }
                        let status = s.status.as_ref().map(|f| f()).unwrap_or_default();
                        format!(
                            "[{:>5.1}s] {}: {}",
                            started.elapsed().as_secs_f64(),
                            s.phase,
                            status
                        )
                    };
                    let mut err = std::io::stderr().lock();
                    // Progress output is best effort: a closed stderr must not stop the run.
                    let _ = if tty {
                        write!(err, "\r\x1b[2K{line}")
                    } else {
                        writeln!(err, "{line}")
                    };
                    let _ = err.flush();
                }
                if tty {
                    let _ = write!(std::io::stderr(), "\r\x1b[2K");
                }
            })
        });
        Ticker { shared, task }
    }

    /// Changes the phase name shown.
    pub fn set_phase(&self, phase: &str) {
        self.shared.lock().unwrap_or_else(|e| e.into_inner()).phase = phase.to_owned();
    }

    /// Sets the function that renders the status part of the line.
    pub fn set_status(&self, f: impl Fn() -> String + Send + Sync + 'static) {
        self.shared.lock().unwrap_or_else(|e| e.into_inner()).status = Some(Arc::new(f));
    }

    /// Stops the indicator and clears its line.
    pub fn finish(&self) {
        self.shared.lock().unwrap_or_else(|e| e.into_inner()).done = true;
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.finish();
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

//! A progress indicator on stderr for long runs. On a terminal it is an `indicatif` spinner
//! rewritten in place (elapsed time, phase, status); otherwise one plain line every five seconds,
//! so CI logs stay short (indicatif draws nothing when stderr is not a terminal). Stdout stays
//! clean for JSON lines.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

type Status = Arc<dyn Fn() -> String + Send + Sync>;

struct Shared {
    phase: String,
    status: Option<Status>,
    done: bool,
}

/// A running progress indicator; stops on [`Ticker::finish`] or drop.
pub struct Ticker {
    shared: Arc<Mutex<Shared>>,
    bar: Option<ProgressBar>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Ticker {
    /// Starts showing `phase` and the status, if `enabled`.
    pub fn start(enabled: bool, phase: &str) -> Ticker {
        let shared = Arc::new(Mutex::new(Shared {
            phase: phase.to_owned(),
            status: None,
            done: false,
        }));
        let tty = std::io::stderr().is_terminal();
        let bar = (enabled && tty).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            // The template is a constant; should it ever fail to parse, the default spinner does.
            if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed:>4}] {msg}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        let task = enabled.then(|| {
            let shared = shared.clone();
            let bar = bar.clone();
            tokio::spawn(async move {
                // The status closure reads counters: render it twice a second for the spinner,
                // every five seconds for a log.
                let every = if bar.is_some() {
                    Duration::from_millis(500)
                } else {
                    Duration::from_secs(5)
                };
                let started = Instant::now();
                loop {
                    let line = {
                        let s = shared.lock().unwrap_or_else(|e| e.into_inner());
                        if s.done {
                            break;
                        }
                        let status = s.status.as_ref().map(|f| f()).unwrap_or_default();
                        format!("{}: {status}", s.phase)
                    };
                    match &bar {
                        Some(bar) => bar.set_message(line),
                        None if started.elapsed() >= every => {
                            let secs = started.elapsed().as_secs_f64();
                            // Progress output is best effort: a closed stderr must not stop the run.
                            let _ = writeln!(std::io::stderr().lock(), "[{secs:>5.1}s] {line}");
                        }
                        None => {}
                    }
                    tokio::time::sleep(every).await;
                }
            })
        });
        Ticker { shared, bar, task }
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
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
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

//! What an accepted TCP connection costs and who may have one: the process has a fixed budget
//! of open files, and one client must not be able to spend it all. [`Connections`] counts open
//! connections in total (`--max-connections`, below the open-file limit) and per peer address
//! (`--max-connections-per-ip`); [`TrackedIo`] carries the count with the socket, so it drops
//! when the socket closes — also after a WebSocket upgrade, when hyper has handed the socket on.
//! [`Activity`] records when a connection last read a request head, for the timeouts in
//! [`super::serve`].

use crate::config::Config;
use crate::config::limits::TrustedProxies;
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

/// File descriptors kept back from the connection budget for the store, its pool, log files,
/// the listener and the runtime.
pub const FD_RESERVE: u64 = 64;

/// The process's open-file soft limit, after raising it to the hard limit (as most servers do
/// at start; harmless when it already is). `None` when it cannot be read.
pub fn fd_limit() -> Option<u64> {
    rlimit::increase_nofile_limit(u64::MAX).ok().or_else(|| {
        rlimit::getrlimit(rlimit::Resource::NOFILE)
            .ok()
            .map(|(soft, _)| soft)
    })
}

/// The default total connection cap for an open-file limit: 90 % of it, less [`FD_RESERVE`].
pub fn default_max_connections(fd_limit: u64) -> u32 {
    let budget = (fd_limit.saturating_mul(9) / 10)
        .saturating_sub(FD_RESERVE)
        .max(1);
    u32::try_from(budget).unwrap_or(u32::MAX)
}

/// Checks an operator's `--max-connections` against the open-file limit.
pub fn check_max_connections(configured: u32) -> Result<(), String> {
    match fd_limit() {
        Some(limit) if u64::from(configured) >= limit => Err(format!(
            "{configured} is not below the open-file limit {limit} (ulimit -n); lower it or \
             raise the limit (default: {})",
            default_max_connections(limit)
        )),
        _ => Ok(()),
    }
}

/// Why a connection was refused at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// `--max-connections` open already.
    #[error("{0} connections open, the most allowed (--max-connections)")]
    Total(usize),
    /// This peer address holds `--max-connections-per-ip` already.
    #[error("this address holds {0} connections, the most allowed (--max-connections-per-ip)")]
    PerIp(u32),
}

/// Open TCP connections, in total and per peer address. Cheap to clone (shared counters).
#[derive(Clone)]
pub struct Connections(Arc<Counters>);

struct Counters {
    max: usize,
    per_ip: Option<u32>,
    exempt: TrustedProxies,
    open: AtomicUsize,
    by_ip: Mutex<HashMap<IpAddr, u32>>,
}

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connections")
            .field("open", &self.open())
            .field("max", &self.0.max)
            .finish()
    }
}

impl Connections {
    /// At most `max` in total and `per_ip` per peer address; peers in `exempt` (trusted
    /// proxies, which carry many clients) have no per-address cap.
    pub fn new(max: usize, per_ip: Option<u32>, exempt: TrustedProxies) -> Self {
        Self(Arc::new(Counters {
            max,
            per_ip,
            exempt,
            open: AtomicUsize::new(0),
            by_ip: Mutex::new(HashMap::new()),
        }))
    }

    /// The caps a configuration asks for; the total defaults to [`default_max_connections`].
    pub fn from_config(config: &Config) -> Self {
        let max = config.max_connections.unwrap_or_else(|| {
            fd_limit().map_or(default_max_connections(1024), default_max_connections)
        });
        Self::new(
            usize::try_from(max).unwrap_or(usize::MAX),
            config.limits.connections_per_ip,
            config.trust_proxy.clone(),
        )
    }

    /// TCP connections open now (WebSocket ones included).
    pub fn open(&self) -> usize {
        self.0.open.load(Ordering::Relaxed)
    }

    /// The total cap.
    pub fn max(&self) -> usize {
        self.0.max
    }

    /// Counts a new connection from `ip`, or says why it is refused. The count drops with the
    /// returned guard.
    pub fn try_acquire(&self, ip: IpAddr) -> Result<ConnectionGuard, Refusal> {
        let ip = ip.to_canonical();
        let max = self.0.max;
        self.0
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .map_err(|_| Refusal::Total(max))?;
        let mut guard = ConnectionGuard {
            connections: self.clone(),
            ip: None,
        };
        let exempt = self.0.exempt.0.iter().any(|p| p.to_canonical() == ip);
        if let (Some(per_ip), false) = (self.0.per_ip, exempt) {
            let mut by_ip = self.by_ip();
            let held = by_ip.entry(ip).or_insert(0);
            if *held >= per_ip {
                return Err(Refusal::PerIp(per_ip)); // the guard gives the total back
            }
            *held += 1;
            guard.ip = Some(ip);
        }
        Ok(guard)
    }

    fn by_ip(&self) -> MutexGuard<'_, HashMap<IpAddr, u32>> {
        // Only counters live under the lock; a panic elsewhere leaves them usable.
        self.0.by_ip.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One counted connection; dropping it gives the slot back.
#[derive(Debug)]
pub struct ConnectionGuard {
    connections: Connections,
    ip: Option<IpAddr>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if let Some(ip) = self.ip {
            let mut by_ip = self.connections.by_ip();
            if let Some(held) = by_ip.get_mut(&ip) {
                *held = held.saturating_sub(1);
                if *held == 0 {
                    by_ip.remove(&ip);
                }
            }
        }
        self.connections.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Where a connection is between requests, for the header and idle timeouts.
#[derive(Debug)]
pub struct Activity {
    phase: Mutex<Phase>,
    changed: Notify,
}

#[derive(Debug)]
struct Phase {
    in_flight: u32,
    /// First byte of a request head seen, head not complete yet.
    head_since: Option<Instant>,
    /// Last request finished (or the connection opened).
    idle_since: Instant,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            phase: Mutex::new(Phase {
                in_flight: 0,
                head_since: None,
                idle_since: Instant::now(),
            }),
            changed: Notify::new(),
        }
    }
}

impl Activity {
    fn phase(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bytes_read(&self) {
        let mut phase = self.phase();
        if phase.in_flight == 0 && phase.head_since.is_none() {
            phase.head_since = Some(Instant::now());
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// A request head is complete and being served; the returned guard marks its end.
    pub fn request(self: &Arc<Self>) -> RequestGuard {
        let mut phase = self.phase();
        phase.in_flight += 1;
        phase.head_since = None;
        RequestGuard(self.clone())
    }

    /// When the connection is to be closed if nothing changes: `header` after the first byte
    /// of a request head, `idle` after the last request finished; `None` while one is served.
    pub fn deadline(&self, header: Duration, idle: Duration) -> Option<(Instant, Timeout)> {
        let phase = self.phase();
        if phase.in_flight > 0 {
            None
        } else if let Some(since) = phase.head_since {
            Some((since + header, Timeout::Header))
        } else {
            Some((phase.idle_since + idle, Timeout::Idle))
        }
    }

    /// Resolves when a request starts a head or finishes.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// Which timeout closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// A request head took longer than `--header-read-timeout` (slowloris).
    Header,
    /// No request for `--idle-timeout`.
    Idle,
}

/// A request being served; ends when dropped.
#[derive(Debug)]
pub struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let mut phase = self.0.phase();
        phase.in_flight = phase.in_flight.saturating_sub(1);
        if phase.in_flight == 0 {
            phase.idle_since = Instant::now();
            phase.head_since = None;
        }
        drop(phase);
        self.0.changed.notify_one();
    }
}

/// An accepted socket with its connection slot and activity record.
#[derive(Debug)]
pub struct TrackedIo {
    stream: TcpStream,
    activity: Arc<Activity>,
    _slot: ConnectionGuard,
}

impl TrackedIo {
    /// Wraps `stream`, holding `slot` until the socket is dropped.
    pub fn new(stream: TcpStream, slot: ConnectionGuard, activity: Arc<Activity>) -> Self {
        Self {
            stream,
            activity,
            _slot: slot,
        }
    }
}

impl TrackedIo {
    /// The connection's activity record.
    pub fn activity(&self) -> Arc<Activity> {
        self.activity.clone()
    }
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_in_total_and_per_address_and_slots_come_back() {
        let proxy: IpAddr = "10.0.0.9".parse().unwrap();
        let c = Connections::new(3, Some(2), TrustedProxies(vec![proxy]));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let a1 = c.try_acquire(a).unwrap();
        let _a2 = c.try_acquire(a).unwrap();
        assert_eq!(c.try_acquire(a).unwrap_err(), Refusal::PerIp(2));
        assert_eq!(c.open(), 2);
        let _b1 = c.try_acquire(b).unwrap();
        assert_eq!(c.try_acquire(b).unwrap_err(), Refusal::Total(3));
        drop(a1);
        assert_eq!(c.open(), 2);
        let _p = c.try_acquire(proxy).unwrap();
        assert_eq!(c.open(), 3);
    }

    #[test]
    fn default_cap_stays_below_the_fd_limit() {
        assert_eq!(default_max_connections(1024), 857);
        assert_eq!(default_max_connections(10), 1);
        assert!(u64::from(default_max_connections(1 << 20)) < 1 << 20);
    }
}

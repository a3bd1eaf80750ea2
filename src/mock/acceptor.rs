//! The emulator's accept loop, on a thread of its own.
//!
//! Under a flood of new connections faster than one core serves them (three local attacker
//! processes open about 40,000 a second; the emulator serves about 30,000 a second on one core),
//! accepting inside the tokio runtime meant taking 128 connections, then waiting behind the
//! tasks just spawned for them: the kernel's accept queue grew to thousands, and a health check
//! waited behind all of them (up to 100 ms). This thread only accepts: it keeps the kernel's
//! queue short and hands each connection to the runtime through a bounded channel (the
//! listener of [`axum_server`] is the channel's receiving end, [`Incoming`]). While connections
//! wait in that channel (the runtime is behind), it first looks at what each new connection
//! has sent, holding one that has sent nothing up to [`FIRST_BYTES_HOLD`], and answers a health
//! check that asks for the connection to be closed (as Kubernetes' and most load balancers'
//! probes do) itself, ahead of every connection waiting for the runtime.

use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream as StdStream};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use tokio::sync::{Mutex, mpsc};

use super::MockState;

/// The emulator's address as [`axum_server`] sees it: its connections come from [`Incoming`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Accepted(pub SocketAddr);

impl axum_server::Address for Accepted {
    type Stream = tokio::net::TcpStream;
    type Listener = Incoming;
}

/// An accepted connection and its peer.
type Connection = (StdStream, SocketAddr);

/// The runtime's end of the accept thread: connections accepted and not yet served.
#[derive(Debug)]
pub(crate) struct Incoming {
    waiting: Mutex<mpsc::Receiver<Connection>>,
    local: SocketAddr,
}

impl axum_server::AddrListener<tokio::net::TcpStream, Accepted> for Incoming {
    async fn bind_to(_: Accepted) -> io::Result<Self> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the emulator's listener is bound before its accept thread starts",
        ))
    }

    async fn accept_stream(&self) -> io::Result<(tokio::net::TcpStream, Accepted)> {
        let next = self.waiting.lock().await.recv().await;
        match next {
            Some((stream, peer)) => Ok((tokio::net::TcpStream::from_std(stream)?, Accepted(peer))),
            // The thread has stopped; the server is stopping too.
            None => std::future::pending().await,
        }
    }

    fn get_local_addr(&self) -> io::Result<Accepted> {
        Ok(Accepted(self.local))
    }
}

/// How long the thread waits for a connection before it looks whether the server has stopped.
const STOP_CHECK: Duration = Duration::from_millis(25);

/// How long a new connection that has sent nothing yet is held for its first bytes (on Linux),
/// so that a health check accepted a moment before its request arrived is still answered here.
pub(crate) const FIRST_BYTES_HOLD: Duration = Duration::from_millis(5);

/// The most connections held for their first bytes at once; past them a new one is handed on
/// at once.
const HELD_AT_MOST: usize = 1024;

/// The most connections accepted before the held ones are looked at again.
const ACCEPT_BATCH: usize = 64;

/// Starts the accept thread on `listener`; `health` (the emulator's state, on plain HTTP only)
/// turns on the health-check answer while connections wait for the runtime, for which a new
/// connection that has sent nothing is held up to `hold`. At most `waiting` accepted
/// connections wait for the runtime; past them the thread waits too, and new connections wait
/// in the kernel's queue. The thread ends once the [`Incoming`] is dropped.
pub(crate) fn spawn(
    listener: TcpListener,
    health: Option<MockState>,
    waiting: usize,
    hold: Duration,
) -> io::Result<(Incoming, JoinHandle<()>)> {
    let local = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let held = FirstBytes::new(
        &listener,
        if health.is_some() {
            hold
        } else {
            Duration::ZERO
        },
    )?;
    let (tx, rx) = mpsc::channel(waiting.max(1));
    let thread = std::thread::Builder::new()
        .name("jwtprobe-accept".to_owned())
        .spawn(move || run(&listener, &tx, health.as_ref(), held))?;
    Ok((
        Incoming {
            waiting: Mutex::new(rx),
            local,
        },
        thread,
    ))
}

fn run(
    listener: &TcpListener,
    tx: &mpsc::Sender<Connection>,
    health: Option<&MockState>,
    mut held: FirstBytes,
) {
    // Hands a connection to the runtime; false once the runtime has stopped taking them.
    let hand_on = |connection: Connection| tx.blocking_send(connection).is_ok();
    loop {
        if tx.is_closed() {
            return;
        }
        // The connections the kernel has, each one looked at before the next is accepted; at
        // most a batch, so that held connections are looked at during an endless flood too
        // (the listener then wakes the wait at once).
        for _ in 0..ACCEPT_BATCH {
            match listener.accept() {
                Ok((stream, peer)) => {
                    // A connection that cannot be made non-blocking is dropped (closed).
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    // While the runtime keeps up it answers a health check as fast; looking
                    // first would cost every new connection a `peek` (and epoll calls for one
                    // that has sent nothing yet).
                    let backlogged = tx.capacity() < tx.max_capacity();
                    let look = match health {
                        Some(state) if backlogged => look(&stream, state),
                        _ => Look::Request,
                    };
                    let next = match look {
                        Look::Done => None,
                        Look::Request => Some((stream, peer)),
                        Look::Nothing => held.hold((stream, peer)),
                    };
                    if next.is_some_and(|c| !hand_on(c)) {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::ConnectionReset
                    ) => {}
                // Out of file descriptors or memory: the connection stays in the kernel's
                // queue; back off as axum-server's own accept loop does, without spinning.
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(10));
                    break;
                }
            }
        }
        // Held connections whose first bytes came, or whose time is up.
        for (stream, peer) in held.wait(listener, STOP_CHECK) {
            let look = health.map_or(Look::Request, |state| look(&stream, state));
            if !matches!(look, Look::Done) && !hand_on((stream, peer)) {
                return;
            }
        }
    }
}

/// What a new connection has sent so far.
enum Look {
    /// It was a health check, now answered, or the connection is closed or broken: nothing
    /// is left to do but close it.
    Done,
    /// Something else: the server's.
    Request,
    /// Nothing yet.
    Nothing,
}

/// Answers `stream` when all it has sent so far is one health check to be answered and closed
/// (see [`is_closing_health_check`]); otherwise takes nothing from it.
fn look(stream: &StdStream, state: &MockState) -> Look {
    let mut head = [0u8; 1024];
    let n = match stream.peek(&mut head) {
        Ok(0) => return Look::Done,
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Look::Nothing,
        Err(_) => return Look::Done,
    };
    if !is_closing_health_check(&head[..n]) {
        return Look::Request;
    }
    // Take the request off the socket first: closing a socket with unread input sends a reset,
    // which can reach the client before the answer.
    let mut reader = stream;
    let mut taken = 0;
    while taken < n {
        match reader.read(&mut head[taken..n]) {
            Ok(0) | Err(_) => return Look::Done,
            Ok(k) => taken += k,
        }
    }
    state.count_health_check();
    // A fresh socket's send buffer takes the answer at once; a client that cannot take it is
    // not waited for.
    let mut writer = stream;
    let _ = writer.write_all(&health_response());
    let _ = stream.shutdown(Shutdown::Write);
    Look::Done
}

/// New connections held until their first bytes come (epoll), for at most a set time.
#[cfg(target_os = "linux")]
struct FirstBytes {
    epoll: rustix::fd::OwnedFd,
    hold: Duration,
    held: std::collections::HashMap<u64, Connection>,
    /// Ids in the order they were held, with when; ids already taken are skipped.
    order: std::collections::VecDeque<(u64, std::time::Instant)>,
    next_id: u64,
}

#[cfg(target_os = "linux")]
impl FirstBytes {
    /// The listener's id in the epoll set.
    const LISTENER: u64 = u64::MAX;

    fn new(listener: &TcpListener, hold: Duration) -> io::Result<Self> {
        use rustix::event::epoll;
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        epoll::add(
            &epoll,
            listener,
            epoll::EventData::new_u64(Self::LISTENER),
            epoll::EventFlags::IN,
        )?;
        Ok(Self {
            epoll,
            hold,
            held: std::collections::HashMap::new(),
            order: std::collections::VecDeque::new(),
            next_id: 0,
        })
    }

    /// Holds `connection`, or gives it back when it cannot be held (none are, all places are
    /// taken, or epoll refuses it).
    fn hold(&mut self, connection: Connection) -> Option<Connection> {
        use rustix::event::epoll;
        if self.hold.is_zero() || self.held.len() >= HELD_AT_MOST {
            return Some(connection);
        }
        let id = self.next_id;
        let data = epoll::EventData::new_u64(id);
        if epoll::add(&self.epoll, &connection.0, data, epoll::EventFlags::IN).is_err() {
            return Some(connection);
        }
        self.next_id += 1;
        self.held.insert(id, connection);
        self.order.push_back((id, std::time::Instant::now()));
        None
    }

    /// Waits up to `longest` for a new connection or for first bytes on a held one; returns
    /// the held connections whose first bytes (or end) came or whose time is up.
    fn wait(&mut self, _listener: &TcpListener, longest: Duration) -> Vec<Connection> {
        use rustix::event::epoll;
        let now = std::time::Instant::now();
        let timeout = self.order.front().map_or(longest, |&(_, since)| {
            (since + self.hold)
                .saturating_duration_since(now)
                .min(longest)
        });
        let timeout = rustix::event::Timespec {
            tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(0),
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        let mut events = [std::mem::MaybeUninit::<epoll::Event>::uninit(); 256];
        // An error (EINTR) only means looking again.
        let ready: Vec<u64> = match epoll::wait(&self.epoll, &mut events[..], Some(&timeout)) {
            Ok((events, _)) => events.iter().map(|e| e.data.u64()).collect(),
            Err(_) => Vec::new(),
        };
        let mut out: Vec<Connection> = ready.into_iter().filter_map(|id| self.take(id)).collect();
        let now = std::time::Instant::now();
        while let Some(&(id, since)) = self.order.front() {
            if self.held.contains_key(&id) && now.duration_since(since) < self.hold {
                break;
            }
            self.order.pop_front();
            out.extend(self.take(id));
        }
        out
    }

    fn take(&mut self, id: u64) -> Option<Connection> {
        let connection = self.held.remove(&id)?;
        let _ = rustix::event::epoll::delete(&self.epoll, &connection.0);
        Some(connection)
    }
}

/// Without epoll no connection is held: only a health check whose request came before it was
/// accepted is answered by the thread.
#[cfg(not(target_os = "linux"))]
struct FirstBytes;

#[cfg(not(target_os = "linux"))]
impl FirstBytes {
    fn new(_: &TcpListener, _: Duration) -> io::Result<Self> {
        Ok(Self)
    }

    fn hold(&mut self, connection: Connection) -> Option<Connection> {
        Some(connection)
    }

    fn wait(&mut self, _: &TcpListener, _: Duration) -> Vec<Connection> {
        std::thread::sleep(Duration::from_millis(1));
        Vec::new()
    }
}

/// The response to a health check answered by the accept thread: what the emulator's handler
/// answers `GET /health` on a connection to be closed.
fn health_response() -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 2\r\n\
         connection: close\r\ndate: {}\r\n\r\nok",
        httpdate::fmt_http_date(SystemTime::now())
    )
    .into_bytes()
}

/// Whether `head` is exactly one complete `GET /health` request head (a query allowed) without
/// a body that asks for the connection to be closed (`Connection: close`, or HTTP/1.0 without
/// `keep-alive`). A keep-alive health check is left to the server, so that a load test of
/// `/health` keeps its connections.
fn is_closing_health_check(head: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Complete(len)) if len == head.len() => {}
        _ => return false,
    }
    let path_is_health = request
        .path
        .is_some_and(|p| p == "/health" || p.starts_with("/health?"));
    if request.method != Some("GET") || !path_is_health {
        return false;
    }
    let mut close = request.version == Some(0);
    for header in request.headers.iter() {
        let name = header.name;
        let value = String::from_utf8_lossy(header.value);
        if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") && request.version == Some(0) {
                    close = false;
                }
            }
        } else if (name.eq_ignore_ascii_case("content-length") && value.trim() != "0")
            || name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("upgrade")
        {
            return false;
        }
    }
    close
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::{MockClock, MockConfig};
    use axum_server::AddrListener as _;
    use test_case::test_case;

    // Each case: a request head, and whether the accept thread answers it itself.
    #[test_case(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", true; "close")]
    #[test_case(b"GET /health HTTP/1.1\r\nconnection: Keep-Alive, CLOSE\r\n\r\n", true; "close among tokens")]
    #[test_case(b"GET /health?full=1 HTTP/1.1\r\nConnection: close\r\n\r\n", true; "query")]
    #[test_case(b"GET /health HTTP/1.0\r\n\r\n", true; "HTTP/1.0")]
    #[test_case(b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false; "HTTP/1.0 keep-alive")]
    #[test_case(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", false; "keep-alive by default")]
    #[test_case(b"GET /health HTTP/1.1\r\nConnection: close\r\n", false; "head not complete")]
    #[test_case(b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\nGET /", false; "more after the head")]
    #[test_case(b"POST /health HTTP/1.1\r\nConnection: close\r\n\r\n", false; "POST")]
    #[test_case(b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", false; "another path")]
    #[test_case(b"GET /jwt/health HTTP/1.1\r\nConnection: close\r\n\r\n", false; "under a prefix")]
    #[test_case(b"GET /health HTTP/1.1\r\nConnection: close\r\nContent-Length: 3\r\n\r\n", false; "body")]
    #[test_case(b"GET /health HTTP/1.1\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n", false; "chunked")]
    #[test_case(b"GET /health HTTP/1.1\r\nConnection: close, Upgrade\r\nUpgrade: h2c\r\n\r\n", false; "upgrade")]
    #[test_case(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", false; "TLS client hello")]
    #[test_case(b"", false; "nothing yet")]
    fn closing_health_checks_are_told_apart(head: &[u8], expected: bool) {
        assert_eq!(is_closing_health_check(head), expected);
    }

    fn state() -> MockState {
        let config = MockConfig::fixture_default(camino::Utf8Path::new(env!("CARGO_MANIFEST_DIR")))
            .expect("the fixture config is valid");
        MockState::new(config, MockClock::system(), false)
    }

    /// Reads what the server sends until it closes.
    fn answer_of(mut stream: StdStream) -> String {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut out = String::new();
        stream.read_to_string(&mut out).expect("read the answer");
        out
    }

    /// Starts the thread on `127.0.0.1:0`.
    fn started(
        health: Option<MockState>,
        waiting: usize,
        hold: Duration,
    ) -> (SocketAddr, Incoming, JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (incoming, thread) = spawn(listener, health, waiting, hold).expect("spawn");
        (addr, incoming, thread)
    }

    /// Drops the receiving end, which stops the thread, and waits for it.
    async fn stopped(incoming: Incoming, thread: JoinHandle<()>) {
        drop(incoming);
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .expect("joined")
            .expect("the thread ended without a panic");
    }

    #[tokio::test]
    async fn health_check_is_answered_while_the_runtime_takes_no_connection() {
        let state = state();
        // One connection may wait for the runtime, and nothing takes it: `first` fills the
        // channel (from then on the thread looks at new connections), the thread then holds
        // `second` and waits, so `third`'s request has arrived before the thread accepts it.
        let (addr, incoming, thread) = started(Some(state.clone()), 1, Duration::ZERO);
        let first = StdStream::connect(addr).expect("connect");
        let second = StdStream::connect(addr).expect("connect");
        let mut third = StdStream::connect(addr).expect("connect");
        third
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("send");
        let mut keep_alive = StdStream::connect(addr).expect("connect");
        keep_alive
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("send");
        // Hand on `first`: the thread passes `second` on, accepts `third` and answers it.
        let (_, peer) = incoming.accept_stream().await.expect("first");
        assert_eq!(peer.0, first.local_addr().expect("addr"));
        let answer = tokio::task::spawn_blocking(move || answer_of(third))
            .await
            .expect("joined");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with("\r\n\r\nok"), "{answer}");
        assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
        assert_eq!(state.hits().total, 1);
        // `second` (nothing sent) and the keep-alive check are left to the server, in order.
        let (_, peer) = incoming.accept_stream().await.expect("second");
        assert_eq!(peer.0, second.local_addr().expect("addr"));
        let (_, peer) = incoming.accept_stream().await.expect("keep-alive");
        assert_eq!(peer.0, keep_alive.local_addr().expect("addr"));
        assert_eq!(state.hits().total, 1);
        stopped(incoming, thread).await;
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn health_check_sent_after_the_accept_is_answered_within_the_hold() {
        let state = state();
        // Nothing ever takes a connection from `incoming`: only the thread can answer, once
        // `waiting` waits there.
        let (addr, incoming, thread) = started(Some(state.clone()), 4, Duration::from_secs(10));
        let mut waiting = StdStream::connect(addr).expect("connect");
        waiting.write_all(b"GET /").expect("send");
        let answer = tokio::task::spawn_blocking(move || {
            let mut check = StdStream::connect(addr).expect("connect");
            // Long enough for the thread to have accepted the connection with nothing on it.
            std::thread::sleep(Duration::from_millis(100));
            check
                .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .expect("send");
            answer_of(check)
        })
        .await
        .expect("joined");
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert_eq!(state.hits().total, 1);
        let (_, peer) = incoming.accept_stream().await.expect("waiting");
        assert_eq!(peer.0, waiting.local_addr().expect("addr"));
        stopped(incoming, thread).await;
    }

    #[tokio::test]
    async fn health_check_is_left_to_the_server_while_it_keeps_up() {
        let state = state();
        let (addr, incoming, thread) = started(Some(state.clone()), 4, Duration::from_secs(10));
        let mut check = StdStream::connect(addr).expect("connect");
        check
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("send");
        let (_, peer) = tokio::time::timeout(Duration::from_secs(10), incoming.accept_stream())
            .await
            .expect("handed on in time")
            .expect("handed on");
        assert_eq!(peer.0, check.local_addr().expect("addr"));
        assert_eq!(state.hits().total, 0);
        stopped(incoming, thread).await;
    }

    #[tokio::test]
    async fn connection_that_sends_nothing_goes_to_the_server_after_the_hold() {
        let (addr, incoming, thread) = started(Some(state()), 4, Duration::from_millis(20));
        // Handed on at once (nothing waits yet); from then on new connections are looked at.
        let first = StdStream::connect(addr).expect("connect");
        let quiet = StdStream::connect(addr).expect("connect");
        for expected in [&first, &quiet] {
            let (_, peer) = tokio::time::timeout(Duration::from_secs(10), incoming.accept_stream())
                .await
                .expect("handed on in time")
                .expect("handed on");
            assert_eq!(peer.0, expected.local_addr().expect("addr"));
        }
        stopped(incoming, thread).await;
    }

    #[test]
    fn without_health_answers_every_connection_goes_to_the_server() {
        let (addr, incoming, thread) = started(None, 4, FIRST_BYTES_HOLD);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut check = StdStream::connect(addr).expect("connect");
        check
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("send");
        let (_, peer) = runtime
            .block_on(incoming.accept_stream())
            .expect("handed on");
        assert_eq!(peer.0, check.local_addr().expect("addr"));
        drop(incoming);
        thread.join().expect("the thread ended without a panic");
    }
}
